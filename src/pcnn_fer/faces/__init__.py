"""Faces: detection (MTCNN, Haar cascades, caller-given boxes) and alignment onto a canonical template."""

from pcnn_fer.faces.align import DEFAULT_TEMPLATE, AlignTemplate, align, align_box, align_detection
from pcnn_fer.faces.detect import LANDMARK_NAMES, Detection, Detector, GivenFaces, create_detector

__all__ = ["DEFAULT_TEMPLATE", "LANDMARK_NAMES", "AlignTemplate", "Detection", "Detector", "GivenFaces", "align",
           "align_box", "align_detection", "create_detector"]
