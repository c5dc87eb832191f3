import json
import math

import numpy as np
import pytest

from pcnn_fer.faces.detect import LANDMARK_NAMES, Detection, Detector, GivenFaces, check_image, iou


def five_points() -> np.ndarray:
    return np.array([[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]], dtype=np.float32)


def test_detection_normalises_fields_and_freezes_landmarks():
    source = five_points()
    detection = Detection((10, 20, 110, 140), np.float32(0.93), source)
    source[0, 0] = -1  # the record keeps its own copy
    assert detection.box == (10.0, 20.0, 110.0, 140.0) and isinstance(detection.box[0], float)
    assert isinstance(detection.score, float)
    assert detection.landmarks[0, 0] == 30
    assert (detection.width, detection.height) == (100.0, 120.0)
    with pytest.raises(ValueError):
        detection.landmarks[0, 0] = 5


@pytest.mark.parametrize("box", [(10, 10, 10, 20), (10, 30, 20, 20)])
def test_empty_box_is_refused(box):
    with pytest.raises(ValueError, match="x1 > x0"):
        Detection(box, 1.0)


def test_landmarks_must_be_five_points():
    with pytest.raises(ValueError, match=r"shape \(5, 2\)"):
        Detection((0, 0, 10, 10), 1.0, np.zeros((2, 2)))


def test_unknown_points_are_nan_and_serialise_as_null():
    points = np.full((5, 2), np.nan)
    points[:2] = [[30, 40], [70, 41]]
    detection = Detection((0, 0, 100, 100), 12.0, points)
    assert detection.known_points.tolist() == [True, True, False, False, False]
    record = json.loads(json.dumps(detection.to_dict()))
    assert list(record["landmarks"]) == list(LANDMARK_NAMES)
    assert record["landmarks"]["right_eye"] == [70.0, 41.0]
    assert record["landmarks"]["nose"] is None
    assert record["box"] == [0.0, 0.0, 100.0, 100.0] and record["score"] == 12.0


def test_without_landmarks():
    detection = Detection((0, 0, 10, 10), 1.0)
    assert detection.to_dict()["landmarks"] is None
    assert not detection.known_points.any()


def test_scaled_maps_box_and_points():
    detection = Detection((10, 20, 110, 140), 0.5, five_points()).scaled(2.0)
    assert detection.box == (20.0, 40.0, 220.0, 280.0)
    np.testing.assert_allclose(detection.landmarks, five_points() * 2)
    assert math.isclose(detection.score, 0.5)


def test_given_faces_returns_the_caller_boxes_or_the_whole_image():
    image = np.zeros((48, 64, 3), dtype=np.uint8)
    whole = GivenFaces().detect(image)
    assert [d.box for d in whole] == [(0.0, 0.0, 64.0, 48.0)]
    given = GivenFaces(boxes=[(1, 2, 30, 40), (5, 5, 9, 9)])
    assert isinstance(given, Detector)
    batch = given.detect_batch([image, image])
    assert [[d.box for d in faces] for faces in batch] == [[(1.0, 2.0, 30.0, 40.0), (5.0, 5.0, 9.0, 9.0)]] * 2


@pytest.mark.parametrize("image", [
    np.zeros((8, 8), dtype=np.uint8),
    np.zeros((8, 8, 4), dtype=np.uint8),
    np.zeros((8, 8, 3), dtype=np.float32),
    np.zeros((0, 8, 3), dtype=np.uint8),
    [[0, 0, 0]],
])
def test_detectors_take_rgb_uint8_only(image):
    with pytest.raises(ValueError, match="frame 3"):
        check_image(image, "frame 3")


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
