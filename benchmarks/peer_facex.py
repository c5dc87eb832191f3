"""facex's expression classifier (`facex` 1.1.0 on the package index, MIT) as a peer: its TensorFlow Lite file, an
entry of `pcnn_fer.weights.pinned`, on LiteRT (`ai-edge-litert`), without TensorFlow.

As facex's source reads (facex/core.py, facex/utils.py): faces are found by OpenCV's Haar cascade on the grey frame
with scaleFactor 1.1 and minNeighbors 4 (facex's copy of haarcascade_frontalface_default.xml is OpenCV's file
with CRLF line ends); each box is cut out as it is from the grey frame, and scikit-image's
`resize(face, (200, 200, 3))` makes the network's float input in [0, 1]: bilinear, the one grey channel spread over
three, smoothed first where it shrinks. The 7 probabilities follow facex's category list, FACEX_CLASSES. Dataset
faces, already cut out at 48 x 48, only go through the resize. Install the runtimes with
`pip install "pcnn-fer[peers]"`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from pcnn_fer.data.labels import canonical_name
from pcnn_fer.weights.pinned import pinned_file

FACEX_CLASSES = ("anger", "disgust", "fear", "happy", "neutral", "sadness", "surprised")
CANONICAL_FACEX_CLASSES = tuple(canonical_name(name) for name in FACEX_CLASSES)
INPUT_SIDE = 200
MODEL = pinned_file("facex_emotion_tflite")
HAAR_CASCADE = "haarcascade_frontalface_default.xml"
HAAR_OPTIONS = {"scaleFactor": 1.1, "minNeighbors": 4}


class FacexClassifier:
    """facex's classifier on grey face crops; `predict` returns probabilities over FACEX_CLASSES."""

    class_names = FACEX_CLASSES

    def __init__(self, threads: int = 2, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else MODEL.fetch()
        self._network = LiteRTModel(self.path, threads)

    def predict(self, faces: Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """(N, 7) float32 probabilities for grey uint8 faces (H, W) of any size."""
        parts = [self.forward(facex_input(faces[start:start + batch_size]))
                 for start in range(0, len(faces), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, len(FACEX_CLASSES)), np.float32)

    def forward(self, images: np.ndarray) -> np.ndarray:
        """The network alone, on faces already prepared by `facex_input` (what speed figures time)."""
        return self._network(images)


def facex_input(faces: Sequence[np.ndarray]) -> np.ndarray:
    """Grey uint8 faces (H, W) as the network takes them: (N, 200, 200, 3) float32 in [0, 1], made by the call
    facex makes."""
    from skimage.transform import resize

    for face in faces:
        if np.ndim(face) != 2:
            raise ValueError(f"expected grey faces of shape (H, W), got {np.shape(face)}")
    return np.stack([resize(np.asarray(face), (INPUT_SIDE, INPUT_SIDE, 3)) for face in faces]).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _cascade() -> cv2.CascadeClassifier:
    return cv2.CascadeClassifier(cv2.data.haarcascades + HAAR_CASCADE)


def facex_detect_faces(grey: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Face boxes (x, y, w, h) on a grey uint8 frame from facex's detector and settings."""
    return [tuple(int(v) for v in box) for box in _cascade().detectMultiScale(grey, **HAAR_OPTIONS)]


def facex_face_crop(grey: np.ndarray, box: Sequence[int]) -> np.ndarray:
    """The grey face facex classifies for a box (x, y, w, h): the box itself, cut out."""
    x, y, w, h = (int(v) for v in box)
    return grey[y:y + h, x:x + w]


class LiteRTModel:
    """A TensorFlow Lite file on LiteRT, one input and one output; the input's batch dimension follows each call."""

    def __init__(self, path: Path, threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(path), num_threads=threads)
        details = self._interpreter.get_input_details()[0]
        self._input, self._shape = details["index"], tuple(int(v) for v in details["shape"][1:])
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = 0

    def __call__(self, images: np.ndarray) -> np.ndarray:
        if tuple(images.shape[1:]) != self._shape:
            raise ValueError(f"input of shape {images.shape}; the network takes (N, *{self._shape})")
        if len(images) != self._batch:
            self._interpreter.resize_tensor_input(self._input, [len(images), *self._shape])
            self._interpreter.allocate_tensors()
            self._batch = len(images)
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(images, dtype=np.float32))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output).copy()
