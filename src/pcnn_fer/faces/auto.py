"""The default face detector: BlazeFace, a few milliseconds a photo, and MTCNN on an image where BlazeFace finds
no face (a strongly turned head, a small grey lab crop), so that the default misses none of the faces MTCNN alone
finds on the sample photos and the CK+ sample, at BlazeFace's speed wherever it finds a face.

Where LiteRT (BlazeFace's runtime) has no wheel for the platform, the default is MTCNN alone, with a warning.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from pcnn_fer.faces.detect import Detection, Detector


class FirstThatFinds:
    """A Detector that asks `first` about every image and `then()` (made on first need) about the images in which
    `first` found no face."""

    name = "auto"

    def __init__(self, first: Detector, then: Callable[[], Detector]) -> None:
        self.first = first
        self._make_then = then
        self._then: Detector | None = None

    @property
    def then(self) -> Detector:
        """The second detector, made the first time an image needs it."""
        if self._then is None:
            self._then = self._make_then()
        return self._then

    def detect(self, image: np.ndarray) -> list[Detection]:
        """The first detector's faces, else the second's."""
        return self.first.detect(image) or self.then.detect(image)

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """The first detector on the batch, the second on the images left without a face."""
        found = self.first.detect_batch(images)
        empty = [i for i, faces in enumerate(found) if not faces]
        if empty:
            for i, faces in zip(empty, self.then.detect_batch([images[i] for i in empty])):
                found[i] = faces
        return found


def create_auto_detector(device: str = "cpu") -> Detector:
    """BlazeFace with MTCNN after it, or MTCNN alone where LiteRT is not installed (see the module's note)."""
    from pcnn_fer.faces.mtcnn import MTCNN

    if importlib.util.find_spec("ai_edge_litert") is None:
        warnings.warn("the default face detector runs BlazeFace on LiteRT, which is not installed here "
                      "(pip install ai-edge-litert): MTCNN alone finds the faces, about ten times slower",
                      UserWarning, stacklevel=2)
        return MTCNN.from_pretrained(device=device)
    from pcnn_fer.faces.blazeface import BlazeFace

    return FirstThatFinds(BlazeFace.from_pretrained(), lambda: MTCNN.from_pretrained(device=device))
