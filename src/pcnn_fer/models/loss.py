"""The two-phase loss: the fused head and the organ heads' sum are trained together."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pcnn_fer.models.pcnn import PCNNOutput


class TwoPhaseLoss(nn.Module):
    """alpha * CE(main logits) + beta * CE(summed organ logits); alpha=12, beta=8 as in the reference.

    Targets are class indices (N,) or label distributions (N, C), e.g. FERPlus vote probabilities.
    """

    def __init__(self, alpha: float = 12.0, beta: float = 8.0, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if alpha < 0 or beta < 0:
            raise ValueError(f"loss weights must be non-negative, got alpha={alpha}, beta={beta}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing}")
        self.alpha, self.beta, self.label_smoothing = alpha, beta, label_smoothing

    def forward(self, output: PCNNOutput, target: torch.Tensor) -> torch.Tensor:
        loss = self.alpha * self._ce(output.logits, target)
        if output.organ_logits is not None and self.beta:
            loss = loss + self.beta * self._ce(output.organ_logits, target)
        return loss

    def _ce(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if target.dim() == 2 and target.shape != logits.shape:
            raise ValueError(f"soft targets must have the logits' shape {tuple(logits.shape)}, "
                             f"got {tuple(target.shape)}")
        return F.cross_entropy(logits, target, label_smoothing=self.label_smoothing)
