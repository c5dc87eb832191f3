"""Each tracked person of a video as a timeline: the time of each processed frame, the probability of each
expression there and the label; and what the timeline adds up to (share of time per expression, mean probability,
longest spell)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Timeline:
    """One person (a track) of one video: `times` in seconds, `probabilities` (frames, classes) in the order of
    `class_names`, `labels` the index of each frame's label."""

    input: str
    track: int
    class_names: tuple[str, ...]
    times: np.ndarray
    probabilities: np.ndarray
    labels: np.ndarray

    @property
    def step(self) -> float:
        """The time between processed frames (the median gap; 0 for a single frame)."""
        return float(np.median(np.diff(self.times))) if len(self.times) > 1 else 0.0

    @property
    def duration(self) -> float:
        """Seconds the person is seen: each processed frame counts for one step."""
        return len(self.times) * self.step

    def spells(self) -> list[tuple[int, float, float]]:
        """(label, start, end) of each run of one label over consecutive frames; a gap of more than 1.5 steps
        (the person out of view) ends a run. `end` is the time the last frame of the run stops counting."""
        spells: list[tuple[int, float, float]] = []
        for i, (time, label) in enumerate(zip(self.times, self.labels)):
            joined = spells and spells[-1][0] == label and time - self.times[i - 1] <= 1.5 * self.step
            if joined:
                spells[-1] = (spells[-1][0], spells[-1][1], time + self.step)
            else:
                spells.append((int(label), float(time), float(time) + self.step))
        return spells

    def summary(self) -> list[dict]:
        """Per expression: share of the person's time labelled with it, mean probability, and the longest spell
        (seconds, and where it starts)."""
        longest: dict[int, tuple[float, float]] = {}
        for label, start, end in self.spells():
            if end - start > longest.get(label, (0.0, 0.0))[0]:
                longest[label] = (end - start, start)
        rows = []
        for k, name in enumerate(self.class_names):
            spell, start = longest.get(k, (0.0, None))
            rows.append({"expression": name, "share_of_time": round(float(np.mean(self.labels == k)), 6),
                         "mean_probability": round(float(self.probabilities[:, k].mean()), 6),
                         "longest_spell_s": round(spell, 4), "longest_spell_start_s": start})
        return rows


def timelines(records: Iterable[dict]) -> list[Timeline]:
    """The timeline of every tracked face in the video records among `records` (photo, no-face and error records
    are left out), ordered by video and track."""
    frames: dict[tuple[str, int], list[dict]] = {}
    class_names: dict[str, tuple[str, ...]] = {}
    for record in records:
        if record.get("status") != "face" or record.get("frame") is None:
            continue
        track = record.get("track")
        key = (record["input"], record["face"] if track is None else track)
        frames.setdefault(key, []).append(record)
        class_names.setdefault(record["input"], tuple(record["probabilities"]))
    found = []
    for (video, track), seen in sorted(frames.items()):
        seen.sort(key=lambda record: record["frame"])
        names = class_names[video]
        probabilities = np.array([[record["probabilities"][name] for name in names] for record in seen])
        found.append(Timeline(
            input=video, track=track, class_names=names,
            times=np.array([record["time"] if record.get("time") is not None else record["frame"] for record in seen],
                           dtype=float),
            probabilities=probabilities, labels=np.array([names.index(record["label"]) for record in seen])))
    return found
