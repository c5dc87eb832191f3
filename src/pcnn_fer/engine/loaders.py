"""Data loaders with reproducible worker seeds, fed by the sharded sampler."""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from pcnn_fer.engine.distributed import ShardedSampler


def seed_worker(worker_id: int) -> None:
    """Give NumPy and `random` in a worker the seed torch derived for it, so augmentations repeat."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(dataset: Dataset, sampler: ShardedSampler, batch_size: int, workers: int,
                device: torch.device, seed: int = 0) -> DataLoader:
    """A loader whose worker seeds come from `seed` and the sampler's epoch, not from global state."""
    generator = torch.Generator().manual_seed(seed * 100_003 + sampler.epoch * 1_009 + sampler.context.rank)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
                      pin_memory=device.type == "cuda", worker_init_fn=seed_worker, generator=generator,
                      persistent_workers=False)
