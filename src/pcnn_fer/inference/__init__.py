"""From photos and video to expressions: the Recognizer, video, explanations, drawing and ONNX export.

Submodules are imported on use, so that `pcnn_fer.inference.onnx` does not pull in face detection.
"""

__all__ = ["FaceResult", "Recognizer"]


def __getattr__(name: str):
    if name == "Recognizer":
        from pcnn_fer.inference.recognizer import Recognizer

        return Recognizer
    if name == "FaceResult":
        from pcnn_fer.inference.results import FaceResult

        return FaceResult
    raise AttributeError(f"module 'pcnn_fer.inference' has no attribute {name!r}")
