"""One HTML page for a report: per video, the annotated video when there is one, and per person the timeline
(a click on it seeks the video to that moment) with its summary table."""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pcnn_fer.report.plots import PLOT_LEFT, PLOT_RIGHT
from pcnn_fer.report.timeline import Timeline


@dataclass(frozen=True)
class PersonView:
    """What the page shows of one person: the timeline, its summary (Timeline.summary), where its plot and CSV are
    (relative to the page)."""

    timeline: Timeline
    summary: list[dict]
    plot: str
    table: str


STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 1150px; color: #222; }
h2 { margin-top: 2rem; border-bottom: 1px solid #ccc; }
video { max-width: 100%; max-height: 420px; display: block; margin: 0.5rem 0; }
img.timeline { width: 100%; cursor: crosshair; }
table { border-collapse: collapse; font-size: 0.85rem; margin-bottom: 1rem; }
td, th { padding: 0.15rem 0.6rem; text-align: right; border-bottom: 1px solid #eee; }
td:first-child, th:first-child { text-align: left; }
"""

# A click on a timeline seeks its video (if the page has one) to the time under the pointer.
SCRIPT = """
for (const plot of document.querySelectorAll("img.timeline")) {
  plot.addEventListener("click", (event) => {
    const video = document.getElementById(plot.dataset.video);
    if (!video) return;
    const box = plot.getBoundingClientRect();
    const x = (event.clientX - box.left) / box.width;
    const left = Number(plot.dataset.left), right = Number(plot.dataset.right);
    const t0 = Number(plot.dataset.start), t1 = Number(plot.dataset.end);
    const fraction = Math.min(1, Math.max(0, (x - left) / (right - left)));
    video.currentTime = t0 + fraction * (t1 - t0);
  });
}
"""


def page_html(target: Path, people: Sequence[PersonView], videos: dict[str, Path | None]) -> str:
    """The HTML of the page at `target` for `people`, grouped by video; `videos` maps each input to its
    annotated copy, or None."""
    sections = []
    for number, (video, annotated) in enumerate(videos.items()):
        parts = [f"<h2>{html.escape(Path(video).name)}</h2>", f"<p class='source'>{html.escape(video)}</p>"]
        if annotated is not None:
            source = html.escape(Path(os.path.relpath(annotated, target.parent)).as_posix())
            parts.append(f"<video id='video-{number}' controls preload='metadata' src='{source}'></video>")
        for person in (p for p in people if p.timeline.input == video):
            parts.append(_person(person, f"video-{number}"))
        sections.append("<section>" + "\n".join(parts) + "</section>")
    count = len(people)
    return (f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'><title>pcnn-fer report</title>"
            f"<style>{STYLE}</style></head><body>\n<h1>Expressions over time</h1>\n"
            f"<p>{count} tracked {'person' if count == 1 else 'people'} in {len(videos)} video(s). Each plot shows "
            f"the probability of every expression along the video and, under it, the label of each processed "
            f"frame; a click on a plot plays the video from there.</p>\n"
            + "\n".join(sections) + f"\n<script>{SCRIPT}</script>\n</body></html>\n")


def _person(person: PersonView, video_id: str) -> str:
    timeline = person.timeline
    end = timeline.times[-1] + timeline.step
    data = {"video": video_id, "left": PLOT_LEFT, "right": PLOT_RIGHT, "start": float(timeline.times[0]),
            "end": float(end)}
    attributes = " ".join(f"data-{key}='{html.escape(json.dumps(value) if not isinstance(value, str) else value)}'"
                          for key, value in data.items())
    rows = "".join(
        f"<tr><td>{html.escape(row['expression'])}</td><td>{100 * row['share_of_time']:.1f} %</td>"
        f"<td>{row['mean_probability']:.3f}</td><td>{row['longest_spell_s']:.2f} s</td></tr>"
        for row in person.summary)
    return (f"<div class='person'><h3>Person {timeline.track}: {len(timeline.times)} frames, "
            f"{timeline.duration:.1f} s in view</h3>"
            f"<img class='timeline' src='{html.escape(person.plot)}' alt='timeline of person {timeline.track}' "
            f"{attributes}>"
            f"<table><tr><th>expression</th><th>share of time</th><th>mean probability</th><th>longest spell</th></tr>"
            f"{rows}</table><p><a href='{html.escape(person.table)}'>summary as CSV</a></p></div>")
