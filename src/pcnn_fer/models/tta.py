"""Flip test-time augmentation: one definition shared by evaluation and the Recognizer."""

from __future__ import annotations

from collections.abc import Callable

import torch

from pcnn_fer.models.organs import ORGANS
from pcnn_fer.models.pcnn import PCNNOutput


def _mirror(organ: str) -> str:
    if organ.startswith("left_"):
        return "right_" + organ[len("left_"):]
    if organ.startswith("right_"):
        return "left_" + organ[len("right_"):]
    return organ


# In a mirrored face the left eye sits where the right eye was: organ i of the mirror is organ MIRRORED_ORGANS[i].
MIRRORED_ORGANS = [ORGANS.index(_mirror(organ)) for organ in ORGANS]


def flip_tta(forward: Callable[[torch.Tensor], PCNNOutput], images: torch.Tensor) -> PCNNOutput:
    """The outputs of `images` and of their mirror images averaged (logits, organ logits per organ side).

    Logits are averaged (not probabilities), so a temperature applied afterwards acts on the averaged face.
    """
    plain, mirrored = forward(images), forward(images.flip(-1))
    per_organ = None
    if plain.per_organ_logits is not None:
        per_organ = (plain.per_organ_logits + mirrored.per_organ_logits[:, MIRRORED_ORGANS]) / 2
    organ = None if plain.organ_logits is None else (plain.organ_logits + mirrored.organ_logits) / 2
    return PCNNOutput((plain.logits + mirrored.logits) / 2, organ, per_organ, plain.theta)
