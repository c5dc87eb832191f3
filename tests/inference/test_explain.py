"""Organ shares, Grad-CAM on the global branch, and heat maps carried back to the source image."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pcnn_fer.faces.align import box_matrix
from pcnn_fer.inference.explain import grad_cam, heatmap_to_source, organ_shares
from pcnn_fer.inference.recognizer import Recognizer
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
