"""Where the five sense organs lie on an aligned face, and how their maps are stitched back together."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from pcnn_fer.models.organs import ORGANS


@dataclass(frozen=True)
class FractionBox:
    """A crop as fractions of the face: rows [top, bottom), columns [left, right)."""

    top: float
    bottom: float
    left: float
    right: float

    def __post_init__(self) -> None:
        if not (0.0 <= self.top < self.bottom <= 1.0 and 0.0 <= self.left < self.right <= 1.0):
            raise ValueError(f"box fractions must satisfy 0 <= top < bottom <= 1 and 0 <= left < right <= 1, "
                             f"got {self}")

    def pixels(self, height: int, width: int) -> tuple[int, int, int, int]:
        """Pixel bounds (y0, y1, x0, x1), truncated as the reference code does with int()."""
        return (int(height * self.top), int(height * self.bottom),
                int(width * self.left), int(width * self.right))


def _reference_boxes() -> dict[str, FractionBox]:
    # Fractions of the authors' code: eyes above half height, cheeks down to 0.65, mouth below.
    return {
        "left_eye": FractionBox(0.0, 0.5, 0.0, 0.5),
        "right_eye": FractionBox(0.0, 0.5, 0.5, 1.0),
        "left_cheek": FractionBox(0.5, 0.65, 0.0, 0.5),
        "right_cheek": FractionBox(0.5, 0.65, 0.5, 1.0),
        "mouth": FractionBox(0.65, 1.0, 0.0, 1.0),
    }


@dataclass(frozen=True)
class RegionLayout:
    """The five organ crops and the rows in which their feature maps are stitched.

    The default is the reference layout; a landmark-driven or custom layout is another instance.
    """

    boxes: dict[str, FractionBox] = field(default_factory=_reference_boxes)
    rows: tuple[tuple[str, ...], ...] = (("left_eye", "right_eye"), ("left_cheek", "right_cheek"), ("mouth",))

    def __post_init__(self) -> None:
        if tuple(self.boxes) != ORGANS:
            raise ValueError(f"a layout names the organs {ORGANS} in that order, got {tuple(self.boxes)}")
        stitched = [organ for row in self.rows for organ in row]
        if sorted(stitched) != sorted(ORGANS):
            raise ValueError(f"layout rows must use each organ exactly once, got {self.rows}")

    def crops(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The five organ crops of a (N, C, H, W) batch, in ORGANS order."""
        height, width = images.shape[-2:]
        out = []
        for organ, box in self.boxes.items():
            y0, y1, x0, x1 = box.pixels(height, width)
            if y1 <= y0 or x1 <= x0:
                raise ValueError(f"input {height}x{width} is too small: the {organ} crop is empty")
            out.append(images[:, :, y0:y1, x0:x1])
        return out

    def to_dict(self) -> dict:
        """The layout as plain JSON types."""
        return {"boxes": {k: [b.top, b.bottom, b.left, b.right] for k, b in self.boxes.items()},
                "rows": [list(r) for r in self.rows]}

    @classmethod
    def from_dict(cls, data: dict) -> RegionLayout:
        """A layout from `to_dict` output."""
        return cls(boxes={k: FractionBox(*v) for k, v in data["boxes"].items()},
                   rows=tuple(tuple(r) for r in data["rows"]))
