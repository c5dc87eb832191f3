"""Video records built in code: two people in one clip, one in another, with what photos and empty frames add."""

from __future__ import annotations

import pytest

from pcnn_fer.inference.results import FaceResult

CLASSES = ("neutral", "happiness", "surprise")


def face(video: str, frame: int, track: int, label: str, fps: float = 10.0) -> FaceResult:
    """A face record of `video` at `frame`, `label` at probability 0.8 and the rest shared."""
    probabilities = {name: 0.8 if name == label else 0.1 for name in CLASSES}
    return FaceResult(input=video, face=track, box=(0.0, 0.0, 10.0, 10.0), label=label, probabilities=probabilities,
                      organ_contributions={}, frame=frame, time=frame / fps, track=track)


@pytest.fixture(scope="session")
def video_records() -> list[FaceResult]:
    """clip.mp4: person 0 in frames 0-9 (neutral 0-3, happy 4-9), person 1 in frames 0-2 and again 6-9 (surprise);
    other.mp4: person 0 in frames 0-4 (happy); a photo, a frame without a face and a failed video besides."""
    records = [face("clip.mp4", i, 0, "neutral" if i < 4 else "happiness") for i in range(10)]
    records += [face("clip.mp4", i, 1, "surprise") for i in (0, 1, 2, 6, 7, 8, 9)]
    records += [face("other.mp4", i, 0, "happiness") for i in range(5)]
    records += [FaceResult(input="photo.jpg", face=0, label="neutral", probabilities={n: 1 / 3 for n in CLASSES}),
                FaceResult.no_face("clip.mp4", frame=10, time=1.0), FaceResult.failure("bad.mp4", "unreadable")]
    return records
