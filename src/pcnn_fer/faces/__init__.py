"""Faces: detection (MTCNN, Haar cascades, caller-given boxes), alignment onto a canonical template, and the
framing a model was trained with."""

from pcnn_fer.faces.align import DEFAULT_TEMPLATE, AlignTemplate, align, align_box, align_detection
from pcnn_fer.faces.detect import LANDMARK_NAMES, Detection, Detector, GivenFaces, create_detector
from pcnn_fer.faces.framing import FER2013_FRAMING, FaceFraming

__all__ = ["DEFAULT_TEMPLATE", "FER2013_FRAMING", "LANDMARK_NAMES", "AlignTemplate", "Detection", "Detector",
           "FaceFraming", "GivenFaces", "align", "align_box", "align_detection", "create_detector"]
