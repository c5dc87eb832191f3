"""A SampleSet as a torch Dataset."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from pcnn_fer.data.cache import DecodedCache
from pcnn_fer.data.images import load_image
from pcnn_fer.data.sample import SampleSet


class FERDataset(Dataset):
    """(image tensor, target) pairs: target is an int64 scalar for a class index, float32 (C,) for a distribution.

    Pixels come from the decoded cache when one is given, else are decoded from the sample's source.
    """

    def __init__(self, samples: SampleSet, transform: Callable[[np.ndarray], torch.Tensor],
                 cache: DecodedCache | None = None) -> None:
        self.samples = samples
        self.transform = transform
        self.cache = cache
        self.class_names = samples.class_names

    def __len__(self) -> int:
        return len(self.samples)

    def pixels(self, index: int) -> np.ndarray:
        """The RGB uint8 (H, W, 3) pixels of sample `index`, before any transform."""
        sample = self.samples.samples[index]
        if self.cache is not None:
            return self.cache.image(sample.key)
        return load_image(sample.source)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        label = self.samples.samples[index].label
        if isinstance(label, int):
            target = torch.tensor(label, dtype=torch.int64)
        else:
            target = torch.tensor(label, dtype=torch.float32)
        return self.transform(self.pixels(index)), target
