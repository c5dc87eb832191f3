"""Mixup: faces and targets blended by the same weight, with the same partner."""

from __future__ import annotations

import pytest
import torch

from pcnn_fer.data.mixup import Mixup


def _indexed_batch(count: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Face i is filled with the value i and labelled class i, so a blend's pixels tell which classes it mixed."""
    images = torch.arange(count, dtype=torch.float32).view(count, 1, 1, 1).expand(count, 3, 4, 4).contiguous()
    return images, torch.arange(count)


def test_each_face_and_its_target_are_blended_with_the_same_partner_by_the_same_weight() -> None:
    torch.manual_seed(3)
    images, labels = _indexed_batch()
    mixed, targets = Mixup(alpha=1.0, class_count=8)(images, labels)
    assert targets.shape == (8, 8) and mixed.shape == images.shape
    torch.testing.assert_close(targets.sum(dim=1), torch.ones(8))
    assert (targets >= 0).all()
    # The pixel value of a blend is the target-weighted mean of the class indices it mixed.
    expected = targets @ torch.arange(8, dtype=torch.float32)
    torch.testing.assert_close(mixed[:, 0, 0, 0], expected)
    assert (targets > 0).sum(dim=1).max() == 2  # some faces were blended with another


def test_distributions_are_blended_as_they_are() -> None:
    torch.manual_seed(0)
    images = torch.zeros(4, 3, 2, 2)
    votes = torch.tensor([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.2, 0.2, 0.6], [1.0, 0.0, 0.0]])
    _, targets = Mixup(alpha=0.4, class_count=3)(images, votes)
    torch.testing.assert_close(targets.sum(dim=1), torch.ones(4))
    # Every blend lies in the span of the batch's own distributions: class 2 only comes from the third face.
    assert targets[:, 2].max() <= 0.6 + 1e-6


@pytest.mark.parametrize("alpha, classes", [(0.0, 3), (-1.0, 3), (0.2, 1)])
def test_a_blend_without_weight_or_classes_is_refused(alpha: float, classes: int) -> None:
    with pytest.raises(ValueError, match="mixup"):
        Mixup(alpha, classes)


def test_targets_of_another_class_count_are_refused() -> None:
    with pytest.raises(ValueError, match="3 classes"):
        Mixup(0.2, 3)(torch.zeros(2, 3, 2, 2), torch.zeros(2, 4))
