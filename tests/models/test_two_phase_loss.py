"""TwoPhaseLoss: the weighted sum of both heads' cross-entropies, for hard and soft targets."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pcnn_fer.models import PCNNOutput, TwoPhaseLoss
from pcnn_fer.models.loss import balance_terms, class_prior


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


def test_logit_bias_shifts_both_heads_inside_the_loss_only() -> None:
    output, target = _output(), torch.tensor([0, 1, 4, 2])
    bias = torch.tensor([0.5, -1.0, 0.0, 2.0, -0.3])
    expected = (3 * F.cross_entropy(output.logits + bias, target)
                + 2 * F.cross_entropy(output.organ_logits + bias, target))
    torch.testing.assert_close(TwoPhaseLoss(3.0, 2.0, logit_bias=bias)(output, target), expected)


def test_class_weights_weigh_each_class_term() -> None:
    output, target = _output(), torch.tensor([0, 1, 4, 2])
    weights = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0])
    loss = TwoPhaseLoss(1.0, 0.0, class_weights=weights)(output, target)
    torch.testing.assert_close(loss, F.cross_entropy(output.logits, target, weight=weights))


def test_class_prior_counts_labels_or_averages_distributions() -> None:
    torch.testing.assert_close(class_prior(torch.tensor([0, 0, 1, 2]), 3), torch.tensor([0.5, 0.25, 0.25]))
    soft = torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]])
    torch.testing.assert_close(class_prior(soft, 3), torch.tensor([0.25, 0.5, 0.25]))
    with pytest.raises(ValueError, match="every class needs training samples"):
        class_prior(torch.tensor([0, 1]), 3)


def test_balance_terms_logit_adjustment_and_weights_keep_the_loss_scale() -> None:
    prior = torch.tensor([0.6, 0.3, 0.1])
    terms = balance_terms(prior, 0.5, "inverse")
    torch.testing.assert_close(terms["logit_bias"], 0.5 * prior.log())
    weights = terms["class_weights"]
    torch.testing.assert_close((prior * weights).sum(), torch.tensor(1.0))  # the prior-weighted mean weight is 1
    assert weights[2] > weights[1] > weights[0]  # rarer classes weigh more
    sqrt = balance_terms(prior, 0.0, "sqrt_inverse")
    assert sqrt["logit_bias"] is None and sqrt["class_weights"][2] / sqrt["class_weights"][0] < weights[2] / weights[0]
    assert balance_terms(prior, 0.0, "none") == {"logit_bias": None, "class_weights": None}
    with pytest.raises(ValueError, match="class weighting"):
        balance_terms(prior, 0.0, "square")


def test_logit_adjustment_moves_the_optimum_towards_rare_classes() -> None:
    """Fitted on a skewed set, adjusted logits end up favouring the rare class less than the prior does."""
    prior = torch.tensor([0.9, 0.1])
    targets = torch.tensor([0] * 9 + [1])
    for adjust, expected_gap in ((0.0, prior.log()[0] - prior.log()[1]), (1.0, torch.tensor(0.0))):
        logits = torch.zeros(2, requires_grad=True)
        loss_fn = TwoPhaseLoss(1.0, 0.0, **balance_terms(prior, adjust, "none"))
        optimiser = torch.optim.SGD([logits], lr=0.5)
        for _ in range(500):
            optimiser.zero_grad()
            output = PCNNOutput(logits.expand(10, 2), None, None, torch.eye(2, 3).expand(10, 2, 3))
            loss_fn(output, targets).backward()
            optimiser.step()
        torch.testing.assert_close(logits[0] - logits[1], expected_gap, atol=1e-2, rtol=0)
