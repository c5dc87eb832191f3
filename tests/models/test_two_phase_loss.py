"""TwoPhaseLoss: the weighted sum of both heads' cross-entropies, for hard and soft targets."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pcnn_fer.models import PCNNOutput, TwoPhaseLoss


def _output(with_organs: bool = True) -> PCNNOutput:
    g = torch.Generator().manual_seed(0)
    logits, organ = torch.randn(4, 5, generator=g), torch.randn(4, 5, generator=g)
    return PCNNOutput(logits, organ if with_organs else None, None, torch.eye(2, 3).expand(4, 2, 3))


def test_default_weights_are_the_references() -> None:
    output, target = _output(), torch.tensor([0, 1, 4, 2])
    expected = 12 * F.cross_entropy(output.logits, target) + 8 * F.cross_entropy(output.organ_logits, target)
    torch.testing.assert_close(TwoPhaseLoss()(output, target), expected)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_one_hot_soft_targets_equal_hard_targets(smoothing: float) -> None:
    output, target = _output(), torch.tensor([0, 1, 4, 2])
    loss = TwoPhaseLoss(alpha=3.0, beta=2.0, label_smoothing=smoothing)
    torch.testing.assert_close(loss(output, F.one_hot(target, 5).float()), loss(output, target))


def test_soft_targets_differ_from_their_argmax() -> None:
    output = _output()
    soft = torch.tensor([[0.6, 0.4, 0, 0, 0]] * 4)
    assert not torch.allclose(TwoPhaseLoss()(output, soft), TwoPhaseLoss()(output, soft.argmax(dim=1)))


def test_without_organ_logits_only_the_main_head_counts() -> None:
    output, target = _output(with_organs=False), torch.tensor([0, 1, 4, 2])
    torch.testing.assert_close(TwoPhaseLoss()(output, target), 12 * F.cross_entropy(output.logits, target))


def test_soft_targets_of_the_wrong_shape_are_refused() -> None:
    with pytest.raises(ValueError, match="logits' shape"):
        TwoPhaseLoss()(_output(), torch.full((4, 3), 1 / 3))
