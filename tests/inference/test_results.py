"""FaceResult records: status and the JSON-ready form."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pcnn_fer.faces.detect import LANDMARK_NAMES, Detection
from pcnn_fer.inference.results import FaceResult, Status, failed, merge_back, split_readable


def test_a_face_record_serialises_without_nan_and_without_drawing_aids():
    face = FaceResult(input="a.jpg", face=0, box=(1.0, 2.0, 30.5, 40.25), detection_score=0.98765432,
                      landmarks=((5.0, 6.0), (math.nan, math.nan), (7.0, 8.0), (9.0, 10.0), (11.0, 12.0)),
                      label="happiness", probabilities={"neutral": 0.25, "happiness": 0.75},
                      organ_contributions={"mouth": 1.0}, heatmap=np.ones((4, 4)), matrix=np.eye(2, 3))
    record = face.to_dict()
    assert json.loads(json.dumps(record, allow_nan=False)) == record
    assert record["landmarks"][1] is None and record["landmarks"][0] == [5.0, 6.0]
    assert record["status"] == "face" and record["label"] == "happiness" and face.confidence == 0.75
    assert record["detection_score"] == pytest.approx(0.98765, abs=1e-9)
    assert "heatmap" not in record and "matrix" not in record and "frame" not in record


def test_no_face_error_and_video_records():
    assert FaceResult(input="x.jpg").to_dict() == {"input": "x.jpg", "status": "no_face"}
    error = FaceResult(input="x.jpg", error="x.jpg: empty file (0 bytes)")
    assert error.is_failure and error.confidence is None
    assert error.to_dict() == {"input": "x.jpg", "status": "error", "error": "x.jpg: empty file (0 bytes)"}
    frame = FaceResult(input="v.mp4", face=0, box=(0, 0, 1, 1), label="a", probabilities={"a": 1.0}, frame=12,
                       time=0.4, track=3).to_dict()
    assert (frame["frame"], frame["time"], frame["track"]) == (12, 0.4, 3)
    assert list(frame)[:5] == ["input", "frame", "time", "track", "status"]


def test_a_face_record_and_its_detection_serialise_alike():
    points = np.array([[5.123, 6.0], [np.nan, np.nan], [7.0, 8.456], [9.0, 10.0], [11.0, 12.0]])
    detection = Detection((1.004, 2.0, 30.5, 40.25), 0.987654, points)
    face = FaceResult(input="a.jpg", face=0, box=detection.box, detection_score=detection.score,
                      landmarks=tuple(map(tuple, detection.landmarks.tolist())), label="a", probabilities={"a": 1.0})
    record, found = face.to_dict(), detection.to_dict()
    assert (record["box"], record["detection_score"]) == (found["box"], found["score"]) == ([1.0, 2.0, 30.5, 40.25],
                                                                                          0.98765)
    assert found["landmarks"] == dict(zip(LANDMARK_NAMES, record["landmarks"]))
    assert record["landmarks"][:3] == [[5.12, 6.0], None, [7.0, 8.46]]


def test_the_detectors_score_is_named_apart_from_the_labels_probability():
    face = FaceResult(input="a.jpg", face=0, box=(0.0, 0.0, 8.0, 8.0), detection_score=1.0, label="happiness",
                      probabilities={"neutral": 0.36, "happiness": 0.64})
    record = face.to_dict()
    assert "score" not in record  # a bare "score" beside the label read as the label's certainty
    assert (record["detection_score"], record["label"], record["probabilities"]["happiness"]) == (1.0, "happiness",
                                                                                                  0.64)
    assert list(record)[2:6] == ["face", "box", "detection_score", "landmarks"]


def test_the_three_kinds_of_record_are_an_enum_that_serialises_to_the_json_field():
    face = FaceResult(input="a.jpg", face=0, label="a", probabilities={"a": 1.0})
    none = FaceResult.no_face("b.jpg", frame=3, time=0.1)
    error = FaceResult.failure("c.jpg", "c.jpg: truncated")
    assert [r.status for r in (face, none, error)] == [Status.FACE, Status.NO_FACE, Status.ERROR]
    assert [r.to_dict()["status"] for r in (face, none, error)] == ["face", "no_face", "error"]
    assert face.is_face and not none.is_face and not none.is_failure and error.is_failure
    assert failed([error]) and not failed([face]) and not failed([])


def test_readable_inputs_run_alone_and_come_back_in_input_order():
    items = ["a", 404, "b", 500, "c"]
    positions, readable = split_readable(items, lambda item: isinstance(item, str))
    assert positions == [0, 2, 4] and readable == ["a", "b", "c"]
    answers = [f"answer {item}" for item in readable]
    assert merge_back([f"error {item}" for item in items], positions, answers) == [
        "answer a", "error 404", "answer b", "error 500", "answer c"]
    with pytest.raises(ValueError):
        merge_back(items, positions, answers[:2])  # an answer lost is never silently misplaced
