"""Faces: detection (MTCNN, Haar cascades, caller-given boxes), alignment onto a canonical template, and the
framing a model was trained with (names load on first use, so that choosing a detector by name in
`pcnn_fer.faces.registry` loads no torch or OpenCV). The `align` function is imported from its module,
`pcnn_fer.faces.align`, whose name it shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pcnn_fer.lazy import lazy_exports

if TYPE_CHECKING:
    from pcnn_fer.faces.align import DEFAULT_TEMPLATE, AlignTemplate, align_box, align_detection
    from pcnn_fer.faces.detect import LANDMARK_NAMES, Detection, Detector, GivenFaces
    from pcnn_fer.faces.framing import FER2013_FRAMING, FaceFraming
    from pcnn_fer.faces.registry import NO_DETECTOR, create_detector, detector_names

__all__ = ["DEFAULT_TEMPLATE", "FER2013_FRAMING", "LANDMARK_NAMES", "NO_DETECTOR", "AlignTemplate", "Detection",
           "Detector", "FaceFraming", "GivenFaces", "align_box", "align_detection", "create_detector",
           "detector_names"]

_NAMES = {
    **dict.fromkeys(("DEFAULT_TEMPLATE", "AlignTemplate", "align_box", "align_detection"), "align"),
    **dict.fromkeys(("LANDMARK_NAMES", "Detection", "Detector", "GivenFaces"), "detect"),
    **dict.fromkeys(("FER2013_FRAMING", "FaceFraming"), "framing"),
    **dict.fromkeys(("NO_DETECTOR", "create_detector", "detector_names"), "registry"),
}
__getattr__, __dir__ = lazy_exports(__name__, _NAMES)

