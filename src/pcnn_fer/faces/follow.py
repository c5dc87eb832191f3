"""Faces through a video: a full detection now and then, on a downscaled frame, and the faces followed in between.

A full MTCNN search costs tens of milliseconds a frame on a CPU; re-measuring a known face with O-Net alone costs
a few. So a FaceFollower searches every `detect_every` frames (or as soon as a followed face is lost) on a copy of
the frame whose longer side is `detect_side` pixels, and in between re-measures the faces it knows at full
resolution, refreshing their boxes and landmarks. While it knows no face it searches every frame. Frames must come
in order: it is a Detector with a memory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from pcnn_fer.faces.auto import FirstThatFinds
from pcnn_fer.faces.detect import Detection, Detector, iou

DUPLICATE_IOU = 0.5  # two followed faces overlapping this much have converged onto one face


@runtime_checkable
class Refiner(Protocol):
    """A detector that can re-measure known faces in a new image (MTCNN's O-Net does)."""

    def refine(self, image: np.ndarray, faces: Sequence[Detection]) -> list[Detection | None]:
        """Each face's new detection in `image`, or None where it is no longer a face."""
        ...


def detect_downscaled(detector: Detector, image: np.ndarray, side: int | None) -> list[Detection]:
    """The detector's faces on a copy of `image` whose longer side is at most `side` pixels, in `image` pixels."""
    longest = max(image.shape[:2])
    if side is None or longest <= side:
        return detector.detect(image)
    factor = side / longest
    size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return [face.scaled(1 / factor) for face in detector.detect(small)]


class FaceFollower:
    """A Detector for consecutive video frames: detects every `detect_every` frames (1: every frame) on a frame
    downscaled to `detect_side` pixels (None: full size), and follows the faces in between when the detector can
    re-measure them (a `Refiner`); a detector that cannot simply detects on every frame.

    Fresh detections are re-measured at full size too, so every frame's landmarks come from full-resolution pixels.
    `counts` tells how many frames were searched ("detected") and how many followed ("followed"). The auto
    detector's second opinion (MTCNN where BlazeFace finds no face) is left out: on video a frame without a face
    is common, a face BlazeFace misses in one frame is met again in the next, and MTCNN on every faceless frame
    would cost more than BlazeFace on all of them.
    """

    def __init__(self, detector: Detector, detect_every: int = 5, detect_side: int | None = 480) -> None:
        if detect_every < 1:
            raise ValueError(f"detect_every must be at least 1, got {detect_every}")
        if detect_side is not None and detect_side < 48:
            raise ValueError(f"detect_side must be at least 48 pixels (or None for full frames), got {detect_side}")
        if isinstance(detector, FirstThatFinds):
            detector = detector.first
        self.detector = detector
        self.name = f"{detector.name}+follow"
        self.refiner = detector if isinstance(detector, Refiner) else None
        self.detect_every = detect_every if self.refiner is not None else 1
        self.detect_side = detect_side
        self.counts: Counter[str] = Counter()
        self._faces: list[Detection] = []
        self._since_search = 0

    def detect(self, image: np.ndarray) -> list[Detection]:
        """The faces of the next frame."""
        # While no face is known, every frame is searched: a face that comes into view is found at once.
        if self._faces and self._since_search < self.detect_every and self.refiner is not None:
            self._since_search += 1
            followed = self.refiner.refine(image, self._faces)
            if all(face is not None for face in followed) and not _converged(followed):
                self.counts["followed"] += 1
                self._faces = followed
                return followed
        self.counts["detected"] += 1
        self._since_search = 1
        found = detect_downscaled(self.detector, image, self.detect_side)
        if self.refiner is not None and self.detect_side is not None:
            found = [sharp or coarse for sharp, coarse in zip(self.refiner.refine(image, found), found)]
        self._faces = found
        return found

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """`detect` on each frame, in order."""
        return [self.detect(image) for image in images]


def _converged(faces: Sequence[Detection]) -> bool:
    return any(iou(a.box, b.box) > DUPLICATE_IOU for i, a in enumerate(faces) for b in faces[i + 1:])
