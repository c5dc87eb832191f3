"""IoU tracking and exponential smoothing of probabilities over frames."""

from __future__ import annotations

import pytest

from pcnn_fer.inference.results import FaceResult
from pcnn_fer.inference.tracking import FaceTracker


def face(box, happy: float) -> FaceResult:
    return FaceResult(input="v.mp4", face=0, box=box, label="happy" if happy > 0.5 else "sad",
                      probabilities={"happy": happy, "sad": 1.0 - happy})


def test_tracks_follow_overlapping_boxes_and_new_faces_get_new_ids():
    tracker = FaceTracker()
    first = tracker.update([face((0, 0, 10, 10), 0.9), face((50, 50, 60, 60), 0.9)])
    second = tracker.update([face((52, 51, 62, 61), 0.9), face((1, 0, 11, 10), 0.9), face((100, 0, 110, 10), 0.9)])
    assert [f.track for f in first] == [0, 1]
    assert [f.track for f in second] == [1, 0, 2]


def test_smoothing_is_exponential_and_can_hold_a_label():
    tracker = FaceTracker(smoothing=0.25)
    tracker.update([face((0, 0, 10, 10), 0.9)])
    (smoothed,) = tracker.update([face((0, 0, 10, 10), 0.1)])
    assert smoothed.probabilities["happy"] == pytest.approx(0.25 * 0.1 + 0.75 * 0.9)
    assert smoothed.label == "happy"
    (raw,) = FaceTracker().update([face((0, 0, 10, 10), 0.1)])
    assert raw.label == "sad" and raw.probabilities["happy"] == pytest.approx(0.1)


def test_lost_tracks_are_dropped_after_max_missed_frames():
    tracker = FaceTracker(max_missed=1)
    tracker.update([face((0, 0, 10, 10), 0.9)])
    tracker.update([])
    assert tracker.update([face((0, 0, 10, 10), 0.9)])[0].track == 0
    tracker.update([])
    tracker.update([])
    assert tracker.update([face((0, 0, 10, 10), 0.9)])[0].track == 1


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError, match="smoothing"):
        FaceTracker(smoothing=0.0)
    with pytest.raises(ValueError, match="iou_threshold"):
        FaceTracker(iou_threshold=1.5)
