"""One reading of a device name for every entry point, so `auto` and a mistyped name mean the same everywhere."""

from __future__ import annotations

import torch

DEVICE_HELP = "auto | cpu | cuda | cuda:N"


def resolve_device(name: str | torch.device, local_rank: int = 0) -> torch.device:
    """"auto" picks this process's GPU when there is one, else the CPU; an unknown name is a ValueError."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as cause:
        raise ValueError(f"device {name!r} is not a device name ({DEVICE_HELP})") from cause
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for CUDA, which is not available here; use cpu or auto")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device {name!r} is not supported ({DEVICE_HELP})")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device
