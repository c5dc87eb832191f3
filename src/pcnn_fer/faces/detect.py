"""The face-detector protocol and its plain `Detection` record; detectors are chosen by name in `faces.registry`.

Every detector takes RGB uint8 images (H, W, 3) and returns, per image, the faces it found with a box, a
score and five landmarks. Points a detector does not know (the haar detector finds eyes only) are NaN, so
one array shape serves every detector and alignment can use whichever points are known.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from pcnn_fer.faces.registry import NO_DETECTOR

LANDMARK_NAMES: tuple[str, ...] = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
"""Row order of a landmark array. Left and right are as seen in the image: the left eye has the smaller x."""

PixelBox = tuple[float, float, float, float]  # (x0, y0, x1, y1) in pixels of the source image


@dataclass(frozen=True, eq=False)
class Detection:
    """One face: box (x0, y0, x1, y1) in source pixels, score (higher is surer) and landmarks.

    `landmarks` is None or a read-only float32 (5, 2) array of (x, y) in LANDMARK_NAMES order; a point the
    detector does not know is NaN (eyes-only detectors leave nose and mouth NaN). `mouth` is the mouth's centre
    from a detector that finds it but not the corners (BlazeFace): alignment fits it where the corners are unknown.
    """

    box: PixelBox
    score: float
    landmarks: np.ndarray | None = field(default=None)
    mouth: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        x0, y0, x1, y1 = (float(v) for v in self.box)
        if not (x1 > x0 and y1 > y0):
            raise ValueError(f"Detection.box must be (x0, y0, x1, y1) with x1 > x0 and y1 > y0, got {self.box}")
        object.__setattr__(self, "box", (x0, y0, x1, y1))
        object.__setattr__(self, "score", float(self.score))
        if self.landmarks is not None:
            points = np.array(self.landmarks, dtype=np.float32)
            if points.shape != (len(LANDMARK_NAMES), 2):
                raise ValueError(f"Detection.landmarks must have shape (5, 2) (x, y per {LANDMARK_NAMES}), "
                                 f"got {np.shape(self.landmarks)}")
            points.setflags(write=False)
            object.__setattr__(self, "landmarks", points)
        if self.mouth is not None:
            x, y = (float(v) for v in self.mouth)
            object.__setattr__(self, "mouth", (x, y))

    @property
    def known_points(self) -> np.ndarray:
        """Boolean (5,) mask of the landmark rows that are known (all False without landmarks)."""
        if self.landmarks is None:
            return np.zeros(len(LANDMARK_NAMES), dtype=bool)
        return np.isfinite(self.landmarks).all(axis=1)

    @property
    def width(self) -> float:
        """The box's width in pixels."""
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        """The box's height in pixels."""
        return self.box[3] - self.box[1]

    def scaled(self, factor: float) -> Detection:
        """The same face in an image resized by `factor` (boxes and landmarks multiplied)."""
        landmarks = None if self.landmarks is None else self.landmarks * factor
        mouth = None if self.mouth is None else (self.mouth[0] * factor, self.mouth[1] * factor)
        return Detection(tuple(v * factor for v in self.box), self.score, landmarks, mouth)

    def to_dict(self) -> dict:
        """Plain JSON-ready record; landmarks by name, unknown points null."""
        record = json_fields(self.box, self.score, self.landmarks)
        if record["landmarks"] is not None:
            record["landmarks"] = dict(zip(LANDMARK_NAMES, record["landmarks"]))
        return record


def json_fields(box: Sequence[float] | None, score: float | None,
                landmarks: Sequence[Sequence[float]] | None) -> dict:
    """Where a face is, as JSON-ready values: box and points rounded to 0.01 px, score to 1e-5, and an unknown
    (NaN) landmark point as null, since JSON has no NaN. Every face record is serialised through here."""
    return {
        "box": None if box is None else [round(float(v), 2) for v in box],
        "score": None if score is None else round(float(score), 5),
        "landmarks": None if landmarks is None else [
            [round(float(x), 2), round(float(y), 2)] if math.isfinite(x) and math.isfinite(y) else None
            for x, y in landmarks],
    }


def iou(a: PixelBox, b: PixelBox) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@runtime_checkable
class Detector(Protocol):
    """Finds faces in RGB uint8 (H, W, 3) images."""

    name: str

    def detect(self, image: np.ndarray) -> list[Detection]:
        """The faces of one image, surest first."""
        ...

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """The faces of each image; detectors batch the work across images where they can."""
        ...


def check_image(image: np.ndarray, where: str = "image") -> np.ndarray:
    """Raise unless `image` is an RGB uint8 (H, W, 3) array; detectors take nothing else."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise ValueError(f"{where}: expected an RGB uint8 array of shape (H, W, 3), got {dtype} {shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{where}: image is empty ({image.shape[0]}x{image.shape[1]})")
    return image


def whole_image_face(image: np.ndarray) -> Detection:
    """The whole image as one face: for a crop that is already a (possibly aligned) face."""
    height, width = image.shape[:2]
    return Detection((0.0, 0.0, float(width), float(height)), 1.0, None)


class GivenFaces:
    """A detector that detects nothing: it returns the caller's boxes, or the whole image when none are given.

    Use it when faces are known already (an annotation, another tracker) or images are aligned face crops: it is
    the detector called "none".
    """

    name = NO_DETECTOR

    def __init__(self, boxes: Sequence[PixelBox] | None = None) -> None:
        self.boxes = [tuple(float(v) for v in box) for box in boxes] if boxes is not None else None

    def detect(self, image: np.ndarray) -> list[Detection]:
        """The caller's boxes on this image, or the whole image as one face."""
        check_image(image)
        if self.boxes is None:
            return [whole_image_face(image)]
        return [Detection(box, 1.0, None) for box in self.boxes]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """`detect` on each image."""
        return [self.detect(image) for image in images]

