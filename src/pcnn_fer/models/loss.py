"""The two-phase loss: the fused head and the organ heads' sum are trained together."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pcnn_fer.models.pcnn import PCNNOutput


class TwoPhaseLoss(nn.Module):
    """alpha * CE(main logits) + beta * CE(summed organ logits); alpha=12, beta=8 as in the reference.

    Targets are class indices (N,) or label distributions (N, C), e.g. FERPlus vote probabilities.
    Two class-balance remedies for skewed training sets (FERPlus: 36 % neutral, 0.5 % disgust):
    - `logit_bias` is added to both heads' logits inside the loss only (logit adjustment, Menon et al. 2021:
      tau * log(prior); tau = 1 is the balanced softmax), so the raw logits the model outputs learn the classes
      rather than their frequencies;
    - `class_weights` re-weights each class's cross-entropy term.
    """

    def __init__(self, alpha: float = 12.0, beta: float = 8.0, label_smoothing: float = 0.0,
                 logit_bias: torch.Tensor | None = None, class_weights: torch.Tensor | None = None) -> None:
        super().__init__()
        if alpha < 0 or beta < 0:
            raise ValueError(f"loss weights must be non-negative, got alpha={alpha}, beta={beta}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing}")
        self.alpha, self.beta, self.label_smoothing = alpha, beta, label_smoothing
        self.register_buffer("logit_bias", logit_bias, persistent=False)
        self.register_buffer("class_weights", class_weights, persistent=False)

    def forward(self, output: PCNNOutput, target: torch.Tensor) -> torch.Tensor:
        loss = self.alpha * self._ce(output.logits, target)
        if output.organ_logits is not None and self.beta:
            loss = loss + self.beta * self._ce(output.organ_logits, target)
        return loss

    def _ce(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if target.dim() == 2 and target.shape != logits.shape:
            raise ValueError(f"soft targets must have the logits' shape {tuple(logits.shape)}, "
                             f"got {tuple(target.shape)}")
        if self.logit_bias is not None:
            logits = logits + self.logit_bias.to(logits.dtype)
        return F.cross_entropy(logits, target, weight=self.class_weights, label_smoothing=self.label_smoothing)


def class_prior(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Class frequencies of a training set: counts of class indices (N,), or the mean of distributions (N, C)."""
    counts = (torch.bincount(labels, minlength=num_classes) if labels.dim() == 1 else labels.sum(dim=0)).double()
    if (counts <= 0).any():
        raise ValueError(f"every class needs training samples to weigh classes; counts are {counts.tolist()}")
    return (counts / counts.sum()).float()


def balance_terms(prior: torch.Tensor, logit_adjust: float, weighting: str) -> dict[str, torch.Tensor | None]:
    """TwoPhaseLoss's `logit_bias` and `class_weights` for a class prior.

    weighting: none, inverse (1 / prior) or sqrt_inverse (1 / sqrt(prior)), scaled so that the prior-weighted
    mean weight is 1 and the loss keeps its scale.
    """
    powers = {"none": 0.0, "sqrt_inverse": 0.5, "inverse": 1.0}
    if weighting not in powers:
        raise ValueError(f"class weighting {weighting!r}; expected one of {', '.join(powers)}")
    weights = None
    if powers[weighting]:
        weights = prior.pow(-powers[weighting])
        weights = weights / (prior * weights).sum()
    return {"logit_bias": logit_adjust * prior.log() if logit_adjust else None, "class_weights": weights}
