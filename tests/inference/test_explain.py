"""Organ shares, Grad-CAM on the global branch, and heat maps carried back to the source image."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pcnn_fer.data.images import load_image
from pcnn_fer.faces.align import box_matrix
from pcnn_fer.faces.detect import Detection
from pcnn_fer.inference.explain import grad_cam, heatmap_to_source, organ_shares
from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.models.organs import ORGANS
from pcnn_fer.models.storage import load_model


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    return load_model(tiny_model_dir)


def test_organ_shares_divide_each_organs_probability_for_the_label_by_their_sum():
    probabilities = np.array([[[0.5, 0.5], [0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.1, 0.9]]])
    shares = organ_shares(probabilities, np.array([1]))
    np.testing.assert_allclose(shares, [[0.5, 0.1, 0.8, 0.7, 0.9]] / np.float64(3.0))


def test_grad_cam_maps_lie_on_the_crop_depend_on_the_target_and_leave_the_model_alone(model):
    images = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    first = grad_cam(model, images, [0, 0])
    other = grad_cam(model, images, [3, 3])
    assert first.shape == (2, 96, 96) and first.dtype == np.float32
    assert first.min() >= 0 and first.max() <= 1 and np.isclose(first[0].max(), 1.0, atol=0.05)
    assert not np.allclose(first, other, atol=1e-3)
    assert not np.allclose(first[0], first[1], atol=1e-3)
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not model.training


def test_heat_maps_go_back_through_the_inverse_of_the_alignment():
    box = (40.0, 20.0, 88.0, 68.0)  # a 48 px face, cropped to 96 px with no margin: scale 2
    matrix = box_matrix(box, 96, margin=0.0)
    heat = np.zeros((96, 96), dtype=np.float32)
    heat[:48, :48] = 1.0  # the crop's top-left quarter
    source = heatmap_to_source(heat, matrix, (100, 120, 3))
    assert source.shape == (100, 120)
    assert source[25:40, 45:60].min() > 0.99  # inside the face's top-left quarter
    assert source[50:65, 70:85].max() < 0.01  # the face's bottom-right quarter
    assert source[:, :35].max() == 0 and source[75:].max() == 0  # outside the face


def test_the_recognizer_attaches_heat_maps_when_asked(model):
    recognizer = Recognizer(model, detector=None)
    crop = np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    (plain,) = recognizer.predict(crop)
    (explained,) = recognizer.predict(crop, explain=True)
    assert plain.heatmap is None and explained.heatmap.shape == (96, 96)
    assert explained.matrix.shape == (2, 3)
    assert explained.probabilities == pytest.approx(plain.probabilities, abs=1e-6)
    assert explained.heatmap.max() > 0


def mouth_evidence(recognizer: Recognizer, image: np.ndarray, detection: Detection, label: str) -> tuple[float, float]:
    """For `label`: the mouth's organ share, and the share of the face's Grad-CAM heat lying over the mouth's crop."""
    size = recognizer.config.input_size
    crop, _ = recognizer.framing.cut(image, detection, size, recognizer.box_margin)
    batch = recognizer.to_tensor([crop])
    target = recognizer.class_names.index(label)
    with torch.inference_mode():
        organ_probabilities = recognizer.model(batch).per_organ_logits.softmax(-1).numpy()
    share = organ_shares(organ_probabilities, np.array([target]))[0, ORGANS.index("mouth")]
    heat = grad_cam(recognizer.model, batch, [target])[0]
    y0, y1, x0, x1 = recognizer.config.layout.boxes["mouth"].pixels(size, size)
    return float(share), float(heat[y0:y1, x0:x1].sum() / heat.sum())


@pytest.mark.network
def test_organ_shares_and_grad_cam_both_find_a_smile_at_the_mouth_and_both_lose_it_when_it_is_covered(pyfeat_data):
    # Trained weights (a random model has no smile to find); MTCNN, whose mouth corners place the patch below.
    recognizer = Recognizer.from_pretrained(None, "mtcnn")
    image = load_image(pyfeat_data / "0-f15-hao-ph.jpg")
    (face,) = recognizer.predict(image)
    assert face.label == "happiness"
    assert max(face.organ_contributions, key=face.organ_contributions.get) == "mouth"
    detection = recognizer.detector.detect(image)[0]
    share, heat = mouth_evidence(recognizer, image, detection, "happiness")
    mouth = recognizer.config.layout.boxes["mouth"]
    assert heat > 1.4 * (mouth.bottom - mouth.top) * (mouth.right - mouth.left)  # hotter than its area's due

    (left_x, left_y), (right_x, right_y) = detection.landmarks[3:]
    width = right_x - left_x
    covered = image.copy()  # a grey patch over the lips and around them, below the nose
    covered[round(min(left_y, right_y) - 0.35 * width):round(max(left_y, right_y) + 0.45 * width),
            round(left_x - 0.25 * width):round(right_x + 0.25 * width)] = 128
    # The same detection, so that only the pixels differ, not where the face is cut.
    covered_share, covered_heat = mouth_evidence(recognizer, covered, detection, "happiness")
    assert covered_share < share / 4  # measured: 0.38 -> 0.02
    assert covered_heat < 0.7 * heat  # measured: 61 % -> 32 % of the heat
