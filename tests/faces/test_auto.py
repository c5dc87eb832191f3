"""The default detector: BlazeFace first, MTCNN only on images where it found no face, MTCNN alone without LiteRT."""

from __future__ import annotations

import numpy as np
import pytest

from pcnn_fer.faces.auto import FirstThatFinds, create_auto_detector
from pcnn_fer.faces.detect import Detection
from pcnn_fer.faces.registry import DEFAULT_DETECTOR, detector_names


class Finds:
    """Finds a face in the images whose first pixel is in `bright` (or in none)."""

    def __init__(self, bright: set[int]) -> None:
        self.bright, self.asked = bright, []

    def detect(self, image):
        self.asked.append(int(image[0, 0, 0]))
        return [Detection((0.0, 0.0, 8.0, 8.0), 0.9, None)] if int(image[0, 0, 0]) in self.bright else []

    def detect_batch(self, images):
        return [self.detect(image) for image in images]


def _image(value: int) -> np.ndarray:
    return np.full((8, 8, 3), value, dtype=np.uint8)


def test_the_second_detector_sees_only_the_images_the_first_found_no_face_in():
    first, second = Finds({1, 3}), Finds({2})
    made = []
    detector = FirstThatFinds(first, lambda: made.append(1) or second)
    found = detector.detect_batch([_image(v) for v in (1, 2, 3, 4)])
    assert [len(faces) for faces in found] == [1, 1, 1, 0]
    assert first.asked == [1, 2, 3, 4] and second.asked == [2, 4] and made == [1]
    assert detector.detect(_image(1)) and len(made) == 1  # the second is made once, when first needed


def test_first_alone_never_makes_the_second():
    detector = FirstThatFinds(Finds({1}), lambda: pytest.fail("the second detector was made"))
    assert detector.detect_batch([_image(1), _image(1)]) and detector.detect(_image(1))


def test_auto_is_offered_and_falls_back_to_mtcnn_without_litert(monkeypatch):
    assert "auto" in detector_names() and DEFAULT_DETECTOR in detector_names()
    monkeypatch.setattr("pcnn_fer.faces.auto.importlib.util.find_spec", lambda name, *args: None)
    monkeypatch.setattr("pcnn_fer.faces.mtcnn.MTCNN.from_pretrained", classmethod(lambda cls, **kw: "mtcnn"))
    with pytest.warns(UserWarning, match="LiteRT, which is not installed"):
        assert create_auto_detector() == "mtcnn"
