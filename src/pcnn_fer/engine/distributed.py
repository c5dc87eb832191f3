"""One process or many: torchrun's environment, the process group, sharded sampling and reduced metrics.

A single process is the world of size 1, so training code has one path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from pcnn_fer.devices import resolve_device


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: its rank, the world size and the device it computes on."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Only the main process writes files and prints."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """Whether more than one process takes part (torchrun with several ranks)."""
        return self.world_size > 1

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """`tensor` summed over every process (itself when alone)."""
        if not self.enabled:
            return tensor
        # NCCL reduces device tensors only; the result comes back where the caller keeps it.
        reduced = tensor.to(self.device, copy=True)
        dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
        return reduced.to(tensor.device)

    def broadcast(self, value: object) -> object:
        """The main process's `value`, on every process (for choices such as a time-stamped run name)."""
        if not self.enabled:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        """Wait for every process; a no-op when training alone."""
        if self.enabled:
            dist.barrier()


def init_distributed(backend: str = "auto", device: str = "auto") -> DistContext:
    """Join the process group torchrun describes in the environment (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_*).

    Without torchrun this is a world of one and nothing is initialised. "auto" picks nccl on CUDA, gloo on CPU.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    target = resolve_device(device, local_rank)
    if world_size > 1:
        if backend == "auto":
            backend = "nccl" if target.type == "cuda" else "gloo"
        if target.type == "cuda":
            torch.cuda.set_device(target)
        if not dist.is_initialized():
            dist.init_process_group(backend=backend, init_method="env://", world_size=world_size, rank=rank)
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=target)


def shutdown(context: DistContext) -> None:
    """Leave the process group that init_distributed joined."""
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()


class ShardedSampler(Sampler[int]):
    """This process's share of an epoch's sample order.

    The order is drawn from `seed + epoch` alone (a permutation, a weighted draw with replacement, or the
    natural order), so it survives a restart. Shards are strided (rank, rank + W, ...): batch k of every
    process together holds exactly the global batch k of a single-process run with W times the batch.
    Training pads the order to a multiple of the world size by repeating its start; evaluation does not pad,
    so every sample is counted once.
    """

    def __init__(self, size: int, context: DistContext, seed: int = 0, shuffle: bool = True,
                 weights: torch.Tensor | None = None, pad: bool = True) -> None:
        if size == 0:
            raise ValueError("cannot sample from an empty dataset")
        self.size, self.context, self.seed, self.shuffle, self.pad = size, context, seed, shuffle, pad
        self.weights = None if weights is None else torch.as_tensor(weights, dtype=torch.double)
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Start epoch `epoch`, leaving out this process's first `skip` samples (resuming mid-epoch)."""
        self.epoch, self.skip = epoch, skip

    def _order(self) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        if self.weights is not None:
            return torch.multinomial(self.weights, self.size, replacement=True, generator=generator)
        if self.shuffle:
            return torch.randperm(self.size, generator=generator)
        return torch.arange(self.size)

    def _shard(self) -> torch.Tensor:
        order = self._order()
        world = self.context.world_size
        if self.pad and len(order) % world:
            order = torch.cat([order, order[: world - len(order) % world]])
        return order[self.context.rank::world]

    def __iter__(self) -> Iterator[int]:
        return iter(self._shard()[self.skip:].tolist())

    def __len__(self) -> int:
        return max(len(self._shard()) - self.skip, 0)
