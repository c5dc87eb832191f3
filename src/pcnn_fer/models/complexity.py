"""What a model costs: multiply-accumulates of one forward pass and parameters per part."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_macs(model: nn.Module, input_size: int = 224) -> int:
    """Multiply-accumulates of one (1, 3, S, S) forward pass in eval mode (convolutions and matmuls).

    FlopCounterMode counts 2 FLOPs per multiply-accumulate.
    """
    was_training = model.training
    model.eval()
    try:
        parameter = next(model.parameters())
        images = torch.zeros(1, 3, input_size, input_size, dtype=parameter.dtype, device=parameter.device)
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(images)
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2


def parameters_by_part(model: nn.Module) -> dict[str, int]:
    """Parameter count of each top-level child module, in registration order."""
    return {name: sum(p.numel() for p in child.parameters()) for name, child in model.named_children()}
