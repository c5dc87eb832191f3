"""Inference-only speed-ups that keep every output equal up to float rounding.

Folding each BatchNorm into the convolution before it removes one pass over every activation map, and the
channels-last layout lets oneDNN pick its fastest CPU convolutions. Six trunks on large maps make PCNN far
more sensitive to both than a single ResNet.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from pcnn_fer.models.pcnn import PCNN


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """Fold every BatchNorm2d that directly follows a Conv2d among its siblings into that convolution, in place.

    The BatchNorm is replaced by an Identity. Only valid in eval mode, where BatchNorm is a fixed affine map.
    """
    if module.training:
        raise ValueError("fold_batchnorm needs a module in eval mode: training BatchNorm uses batch statistics")
    for parent in module.modules():
        names = list(parent._modules)
        for conv_name, norm_name in zip(names, names[1:]):
            conv, norm = parent._modules[conv_name], parent._modules[norm_name]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                parent._modules[conv_name] = fuse_conv_bn_eval(conv, norm)
                parent._modules[norm_name] = nn.Identity()
    return module


def optimize_for_inference(model: PCNN, channels_last: bool = True) -> PCNN:
    """An eval-mode copy of `model` with BatchNorm folded and, by default, channels-last weights.

    The copy is for prediction only: it cannot be trained on or saved (save the original instead).
    """
    fast = fold_batchnorm(copy.deepcopy(model).eval())
    if channels_last:
        fast = fast.to(memory_format=torch.channels_last)
    fast.inference_only = True
    for parameter in fast.parameters():
        parameter.requires_grad_(False)
    return fast
