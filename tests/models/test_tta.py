"""Flip TTA: the average of a face and its mirror, organs swapped side for side."""

from __future__ import annotations

import torch

from pcnn_fer.models import ORGANS, create_model
from pcnn_fer.models.tta import MIRRORED_ORGANS, flip_tta


def test_mirrored_organs_swap_left_and_right_and_keep_the_mouth():
    assert [ORGANS[i] for i in MIRRORED_ORGANS] == ["right_eye", "left_eye", "right_cheek", "left_cheek", "mouth"]


def test_flip_tta_averages_logits_and_is_the_same_for_a_face_and_its_mirror():
    model = create_model("pcnn_r18", num_classes=3, input_size=64).eval()
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        averaged = flip_tta(model, images)
        of_mirror = flip_tta(model, images.flip(-1))
        plain, mirrored = model(images), model(images.flip(-1))
    torch.testing.assert_close(averaged.logits, (plain.logits + mirrored.logits) / 2)
    torch.testing.assert_close(averaged.organ_logits, (plain.organ_logits + mirrored.organ_logits) / 2)
    torch.testing.assert_close(of_mirror.logits, averaged.logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(of_mirror.per_organ_logits[:, MIRRORED_ORGANS], averaged.per_organ_logits,
                               atol=1e-5, rtol=1e-5)
    assert not torch.allclose(plain.logits, averaged.logits)


def test_flip_tta_without_organ_branches_keeps_them_absent():
    model = create_model("pcnn_r18", num_classes=3, input_size=64, organs=False).eval()
    with torch.inference_mode():
        output = flip_tta(model, torch.rand(1, 3, 64, 64))
    assert output.organ_logits is None and output.per_organ_logits is None
