"""The optimiser, the learning-rate schedule as a factor per (fractional) epoch, and the training mode."""

from __future__ import annotations

import math

import torch
from torch import nn

from pcnn_fer.engine.config import OptimConfig, ScheduleConfig


def lr_factor(schedule: ScheduleConfig, base_lr: float, epochs_done: float) -> float:
    """The learning-rate multiplier after `epochs_done` (fractional) epochs: schedule times linear warm-up."""
    if schedule.name == "step":
        factor = schedule.gamma ** (int(epochs_done) // schedule.step_size)
    elif schedule.name == "cosine":
        floor = schedule.min_lr / base_lr if base_lr else 0.0
        factor = floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(epochs_done / schedule.epochs, 1.0)))
    else:
        factor = 1.0
    if epochs_done < schedule.warmup_epochs:
        factor *= schedule.warmup_factor + (1 - schedule.warmup_factor) * epochs_done / schedule.warmup_epochs
    return factor


def build_optimizer(optim: OptimConfig, model: nn.Module) -> torch.optim.Optimizer:
    """SGD (momentum, optionally Nesterov) or AdamW over every parameter of `model`, as optim.* says."""
    if optim.name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=optim.lr, momentum=optim.momentum,
                               weight_decay=optim.weight_decay, nesterov=optim.nesterov)
    return torch.optim.AdamW(model.parameters(), lr=optim.lr, betas=tuple(optim.betas),
                             weight_decay=optim.weight_decay)


def set_train_mode(model: nn.Module, freeze_bn: bool) -> None:
    """Training mode, with BatchNorm statistics frozen when asked (tiny per-process batches)."""
    model.train()
    if freeze_bn:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
