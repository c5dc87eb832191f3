"""Mixup on a training batch: each face blended with another face of the batch, and their targets alike.

A blend of two faces asks the model for a blend of their classes, which keeps it from growing over-confident on
the majority classes it sees most (Zhang et al., ICLR 2018). PCNN cuts its organs at fixed places of the aligned
face, so the two faces' eyes and mouths fall on each other and every organ branch sees a blend of organs too.
"""

from __future__ import annotations

import torch


class Mixup:
    """(images, targets) -> (lam * images + (1 - lam) * shuffled images, the same blend of their distributions).

    `alpha` shapes the Beta(alpha, alpha) the blend weight is drawn from, once per batch: small alphas mostly keep
    one face (0.2: lam beyond 0.9 or below 0.1 two times out of three). Targets are class indices (N,) or
    distributions (N, C); the result is always distributions.
    """

    def __init__(self, alpha: float, class_count: int) -> None:
        if alpha <= 0:
            raise ValueError(f"mixup alpha must be positive, got {alpha}")
        if class_count < 2:
            raise ValueError(f"mixup needs at least 2 classes, got {class_count}")
        self.beta = torch.distributions.Beta(torch.tensor(float(alpha)), torch.tensor(float(alpha)))
        self.class_count = class_count

    def __call__(self, images: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if targets.dim() == 1:
            targets = torch.nn.functional.one_hot(targets, self.class_count)
        targets = targets.to(images.dtype)
        if targets.shape != (len(images), self.class_count):
            raise ValueError(f"mixup takes {len(images)} targets of {self.class_count} classes, got "
                             f"{tuple(targets.shape)}")
        lam = float(self.beta.sample())
        order = torch.randperm(len(images), device=images.device)
        return (images.mul(lam).add_(images[order], alpha=1 - lam),
                targets.mul(lam).add_(targets[order], alpha=1 - lam))
