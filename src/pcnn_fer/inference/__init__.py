"""From photos and video to expressions: the Recognizer, the photo/video pipeline, record writers, drawing,
explanations and ONNX (submodules load on first use, so `pcnn_fer.inference.onnx` does not pull in face
detection)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pcnn_fer.lazy import lazy_exports

if TYPE_CHECKING:
    from pcnn_fer.inference.recognizer import Recognizer
    from pcnn_fer.inference.results import FaceResult

__all__ = ["FaceResult", "Recognizer"]

__getattr__, __dir__ = lazy_exports(__name__, {"FaceResult": "results", "Recognizer": "recognizer"})
