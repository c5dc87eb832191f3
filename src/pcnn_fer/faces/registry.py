"""Face detectors chosen by name. Each is imported when first made, so that listing the names (for a command
line's choices) loads neither torch nor OpenCV."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pcnn_fer.faces.detect import Detector

NO_DETECTOR = "none"
"""The one name for "no detector": each image, or each box the caller gives with it, is taken as a face."""
DEFAULT_DETECTOR = "auto"
"""What photos, video and the server use unless told otherwise: BlazeFace, and MTCNN where it finds no face
(pcnn_fer.faces.auto), ten times faster than MTCNN alone at finding faces. BlazeFace gives no mouth corners: its
faces are aligned on the eyes, the nose tip and the mouth centre, moved to the five-point convention the models
are framed by (pcnn_fer.faces.blazeface.TO_FIVE_POINT_CONVENTION)."""

# name -> (module, factory in it); options of create_detector go to the factory.
_DETECTORS: dict[str, tuple[str, str]] = {
    "auto": ("pcnn_fer.faces.auto", "create_auto_detector"),
    "mtcnn": ("pcnn_fer.faces.mtcnn", "MTCNN.from_pretrained"),
    "haar": ("pcnn_fer.faces.haar", "HaarDetector"),
    "blazeface": ("pcnn_fer.faces.blazeface", "BlazeFace.from_pretrained"),
    NO_DETECTOR: ("pcnn_fer.faces.detect", "GivenFaces"),
}


def detector_names() -> tuple[str, ...]:
    """Every name create_detector takes, "none" included, in the order a command line offers them."""
    return tuple(_DETECTORS)


def create_detector(name: str = DEFAULT_DETECTOR, **options) -> Detector:
    """The detector called `name` ("auto", "mtcnn", "haar", "blazeface" or "none"); options go to its
    constructor."""
    if name not in _DETECTORS:
        raise ValueError(f"unknown face detector {name!r}; expected one of: {', '.join(detector_names())}")
    module, factory = _DETECTORS[name]
    target = importlib.import_module(module)
    for attribute in factory.split("."):
        target = getattr(target, attribute)
    return target(**options)
