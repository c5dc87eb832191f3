"""A report from records files: per tracked person a timeline PNG and a summary CSV, and one page for them all."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pcnn_fer.atomic import atomic_path, write_text
from pcnn_fer.inference.records import read_records
from pcnn_fer.progress import progress
from pcnn_fer.report.page import PersonView, page_html
from pcnn_fer.report.plots import plot_timeline
from pcnn_fer.report.timeline import timelines
from pcnn_fer.report.video_copy import BROWSER_SUFFIX, browser_copy

PAGE = "index.html"


@dataclass(frozen=True)
class Report:
    """Where a report went: the page, each person's plot and CSV, and the annotated copy shown for each video."""

    page: Path
    people: list[PersonView]
    videos: dict[str, Path | None]


def write_report(records: Sequence[str | Path], output: str | Path, annotated: str | Path | None = None,
                 show_progress: bool = True) -> Report:
    """Read the records files or folders (`predict` output, `corpus` shards), and write into `output` one folder
    per video with `person-<track>.png` and `.csv` for each tracked person, and `index.html` showing them all.

    `annotated` is the folder `predict --annotate` wrote into: a video found there as `<stem>.mp4` is shown on
    the page above its people's timelines, from a copy the report makes that browsers play
    (`<video folder>/annotated.webm`, re-encoded at about real time).
    """
    output = Path(output)
    found = timelines(read_records(records))
    if not found:
        raise ValueError("no tracked faces in video records there: timelines are drawn for the faces of videos "
                         "(photos have no time axis)")
    folders = _folders({timeline.input for timeline in found})
    people = []
    for timeline in progress(found, len(found), "timelines", enabled=show_progress, unit="person"):
        name = f"{folders[timeline.input]}/person-{timeline.track}"
        summary = timeline.summary()
        plot_timeline(timeline, output / f"{name}.png")
        _write_summary(summary, output / f"{name}.csv")
        people.append(PersonView(timeline, summary, f"{name}.png", f"{name}.csv"))
    videos = {}
    for video, folder in folders.items():
        copy = _annotated_copy(video, annotated)
        videos[video] = None if copy is None else browser_copy(copy, output / folder / f"annotated{BROWSER_SUFFIX}",
                                                               show_progress)
    page = output / PAGE
    write_text(page, page_html(page, people, videos))
    return Report(page, people, videos)


def _folders(videos: set[str]) -> dict[str, str]:
    """A folder name per video: its stem, numbered when two videos share one."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for video in sorted(videos):
        stem, number = Path(video).stem, 1
        name = stem
        while name in used:
            number += 1
            name = f"{stem}-{number}"
        used.add(name)
        names[video] = name
    return names


def _annotated_copy(video: str, annotated: str | Path | None) -> Path | None:
    if annotated is None:
        return None
    copy = Path(annotated) / f"{Path(video).stem}.mp4"
    return copy if copy.is_file() else None


def _write_summary(rows: list[dict], target: Path) -> None:
    with atomic_path(target) as partial, open(partial, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
