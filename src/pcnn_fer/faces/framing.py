"""How a model wants its faces framed: where the landmarks sit in its crop, grey or colour, at what resolution.

A model trained on RAF-DB's aligned faces expects the default five-point template at its input size. One trained
on FER2013's loose 48 x 48 grey crops expects FER2013's framing, grey pixels, and the softness of a 48 px face
enlarged to its input size; fed a sharp, tightly aligned colour crop instead, it sees faces unlike any it learnt
from. A model's metadata carries its FaceFraming and the Recognizer follows it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pcnn_fer.data.preprocessing import resize_square
from pcnn_fer.faces.align import DEFAULT_TEMPLATE, AlignTemplate, align_detection
from pcnn_fer.faces.detect import Detection


@dataclass(frozen=True)
class FaceFraming:
    """`template` places the landmarks; `grey` drops colour (ITU-R 601 luma, as Pillow's "L"); faces are cut at
    `working_size` pixels and then resized to the model's input size with the resizer training used (None: cut
    at the input size directly)."""

    template: AlignTemplate = DEFAULT_TEMPLATE
    grey: bool = False
    working_size: int | None = None

    def __post_init__(self) -> None:
        if self.working_size is not None and not 8 <= self.working_size <= 4096:
            raise ValueError(f"FaceFraming.working_size must be None or 8..4096 pixels, got {self.working_size}")

    def cut(self, image: np.ndarray, detection: Detection, input_size: int,
            box_margin: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
        """The face as an RGB uint8 (input_size, input_size, 3) crop, and the source -> crop 2x3 matrix."""
        size = self.working_size or input_size
        crop, matrix = align_detection(image, detection, self.template, size, box_margin)
        if self.grey:
            crop = np.repeat(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
        if size != input_size:
            crop = resize_square(crop, input_size)
            matrix = matrix * (input_size / size)
        return crop, matrix

    def to_dict(self) -> dict:
        """The framing as plain JSON types, for a model's metadata."""
        return {"template": self.template.to_dict(), "grey": self.grey, "working_size": self.working_size}

    @classmethod
    def from_dict(cls, data: dict) -> FaceFraming:
        """A framing from a model's metadata; a malformed entry is refused in one line."""
        if not isinstance(data, dict) or "template" not in data:
            raise ValueError(f"model metadata 'framing' must be an object with a template, got {data!r}")
        working_size = data.get("working_size")
        return cls(AlignTemplate.from_dict(data["template"]), bool(data.get("grey", False)),
                   None if working_size is None else int(working_size))


# FER2013's framing, measured by benchmarks/measure_framing.py: the median MTCNN landmarks of 174 FERPlus
# validation faces (of 200 drawn) in unit coordinates of their 48 x 48 crops, made left-right symmetric. Against
# the default template the face is a little larger (eye distance 0.36 of the crop, not 0.31) and sits alike
# (eyes at 0.39 of the height). Eyes weigh 4x, as in the default template.
FER2013_FRAMING = FaceFraming(
    template=AlignTemplate(points=((0.3186, 0.3897), (0.6814, 0.3897), (0.5000, 0.5987), (0.3491, 0.7812),
                                   (0.6509, 0.7812)),
                           weights=(4.0, 4.0, 1.0, 1.0, 1.0)),
    grey=True, working_size=48)

# How each dataset's faces are framed, where a dataset fixes it: a model trained on one is fed faces cut the same
# way (training records it in the model's metadata; other datasets leave it to the Recognizer's default).
DATASET_FRAMINGS: dict[str, FaceFraming] = {"ferplus": FER2013_FRAMING, "fer2013": FER2013_FRAMING}
