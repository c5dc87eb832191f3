"""Viola-Jones face and eye cascades shipped inside opencv-python-headless 4.x (cv2.data): no download at all.

Eyes are searched in the upper part of each face (its top 5/8: eye windows centred near half height reach
below it); their centres become the two eye landmarks (nose and mouth
stay NaN, as does an eye that was not found), which is enough for eye-line alignment.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from pcnn_fer.faces.detect import LANDMARK_NAMES, Detection, check_image

FACE_CASCADE = "haarcascade_frontalface_default.xml"
EYE_CASCADE = "haarcascade_eye.xml"


def cascade_directory() -> Path:
    """Where cv2 keeps its cascades; opencv-python 5.x wheels carry none."""
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if not folder or not (Path(folder) / FACE_CASCADE).is_file():
        raise FileNotFoundError(f"OpenCV {cv2.__version__} carries no Haar cascades (cv2.data.haarcascades); "
                                f"install opencv-python-headless 4.x (>=4.8,<5) or use the mtcnn detector")
    return Path(folder)


def load_cascade(path: Path) -> cv2.CascadeClassifier:
    """An OpenCV cascade from `path`; an unreadable file is a ValueError naming it."""
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise ValueError(f"{path}: not a readable OpenCV cascade file")
    return cascade


class HaarDetector:
    """Frontal faces by OpenCV's Haar cascade, eye landmarks by its eye cascade.

    score is the number of neighbouring raw detections that merged into the face (higher is surer).
    """

    name = "haar"

    def __init__(self, min_face_size: int = 40, scale_factor: float = 1.1, min_neighbors: int = 5,
                 find_eyes: bool = True) -> None:
        folder = cascade_directory()
        self.faces = load_cascade(folder / FACE_CASCADE)
        self.eyes = load_cascade(folder / EYE_CASCADE) if find_eyes else None
        self.min_face_size = int(min_face_size)
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)

    def detect(self, image: np.ndarray) -> list[Detection]:
        """The faces in one RGB image, scored by their neighbour counts."""
        grey = cv2.equalizeHist(cv2.cvtColor(check_image(image), cv2.COLOR_RGB2GRAY))
        boxes, neighbours = self.faces.detectMultiScale2(
            grey, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(self.min_face_size, self.min_face_size))
        found = [Detection((x, y, x + w, y + h), float(n), self._eye_landmarks(grey, (x, y, w, h)))
                 for (x, y, w, h), n in zip(np.asarray(boxes).reshape(-1, 4), np.asarray(neighbours).ravel())]
        return sorted(found, key=lambda d: -d.score)

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """The faces in each image (Haar cascades have no batched form: one image at a time)."""
        return [self.detect(image) for image in images]

    def _eye_landmarks(self, grey: np.ndarray, face: tuple[int, int, int, int]) -> np.ndarray | None:
        """Centres of the largest eye found in the left and right half of the face's top (NaN where none)."""
        if self.eyes is None:
            return None
        x, y, w, h = (int(v) for v in face)
        upper = grey[y:y + (5 * h) // 8, x:x + w]
        smallest = max(1, w // 10)
        eyes = np.asarray(self.eyes.detectMultiScale(upper, scaleFactor=1.05, minNeighbors=3,
                                                     minSize=(smallest, smallest), maxSize=(w // 2, w // 2)))
        points = np.full((len(LANDMARK_NAMES), 2), np.nan, dtype=np.float32)
        for side, (lo, hi) in enumerate(((0, w / 2), (w / 2, w))):
            candidates = [e for e in eyes.reshape(-1, 4) if lo <= e[0] + e[2] / 2 < hi]
            if candidates:
                ex, ey, ew, eh = max(candidates, key=lambda e: e[2] * e[3])
                points[side] = (x + ex + ew / 2, y + ey + eh / 2)
        return points
