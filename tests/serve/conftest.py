"""A tiny random model that treats each image as a face crop, and helpers that encode images and videos."""

from __future__ import annotations

import io
import threading

import cv2
import numpy as np
import pytest
from PIL import Image

from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.models.storage import load_model


class GatedRecognizer(Recognizer):
    """A Recognizer whose model calls can be held shut (to fill the queue) and record how many faces each ran."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.batches: list[int] = []
        self.gate = threading.Event()
        self.gate.set()

    def classify(self, faces, **options):
        self.gate.wait()
        self.batches.append(len(faces))
        return super().classify(faces, **options)


@pytest.fixture(scope="module")
def recognizer(tiny_model_dir):
    return GatedRecognizer(load_model(tiny_model_dir), detector="none")


def _encoded(fmt: str = "PNG", size: tuple[int, int] = (64, 48), seed: int = 0) -> bytes:
    """A random RGB image of `size` (width, height) encoded as `fmt`."""
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt)
    return buffer.getvalue()


def _write_video(path, frames: int = 6, size: tuple[int, int] = (64, 48)) -> None:
    """A short mp4 of random frames."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, size)
    rng = np.random.default_rng(1)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    writer.release()


@pytest.fixture(scope="session")
def encoded():
    """encoded(fmt="PNG", size=(64, 48), seed=0) -> bytes."""
    return _encoded


@pytest.fixture(scope="session")
def write_video():
    """write_video(path, frames=6, size=(64, 48)) writes an mp4."""
    return _write_video
