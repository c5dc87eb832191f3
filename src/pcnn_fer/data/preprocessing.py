"""How pixels become a PCNN's input: one object, derived from the model's config, for every path a face takes.

Training (the tail of its augmentations), evaluation, the decoded-image cache and the Recognizer all resize with
`resize_square` and normalise with the same mean and std, so a face reaches the model as the same tensor
whichever path it came by.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torchvision.transforms import v2

from pcnn_fer.models.inputs import IMAGENET_MEAN, IMAGENET_STD

if TYPE_CHECKING:
    from pcnn_fer.models.pcnn import PCNNConfig


def resize_square(pixels: np.ndarray, size: int) -> np.ndarray:
    """An RGB uint8 (H, W, 3) array resized to (size, size, 3) by torchvision's antialiased resize (unchanged when
    it already has that size): the one resizer, the very function the transforms' Resize step calls."""
    if pixels.shape[:2] == (size, size):
        return pixels
    tensor = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)
    return v2.functional.resize(tensor, [size, size], antialias=True).permute(1, 2, 0).numpy()


@dataclass(frozen=True)
class Preprocessing:
    """A model's input convention: square faces of `size` pixels, scaled to [0, 1], normalised by mean and std."""

    size: int
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @classmethod
    def of(cls, config: PCNNConfig) -> Preprocessing:
        """The convention a model was built with; after a model is built, its config alone says it."""
        return cls(config.input_size, tuple(config.mean), tuple(config.std))

    def resize_step(self) -> v2.Resize:
        """The transforms' resize step; it calls the same torchvision function as `resize_square`."""
        return v2.Resize((self.size, self.size), antialias=True)

    def normalize_steps(self) -> list[torch.nn.Module]:
        """The tail every transform ends with: uint8 -> float in [0, 1] -> (x - mean) / std."""
        return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(self.mean), list(self.std))]

    def to_batch(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        """RGB uint8 crops of the input size as the normalised (N, 3, size, size) float batch the model takes."""
        for crop in crops:
            if crop.shape != (self.size, self.size, 3):
                raise ValueError(f"face crops must be {self.size}x{self.size}x3 (the model's input_size), "
                                 f"got {crop.shape}")
        batch = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2)
        batch = v2.functional.to_dtype(batch, torch.float32, scale=True)
        return v2.functional.normalize(batch, list(self.mean), list(self.std))
