"""Whether a state dict fits a model: the one check every loader runs before load_state_dict.

torch's own strict loading stops at the first size mismatch with a long message about module paths;
this names, in one line, every missing, unexpected and wrongly shaped key, in the caller's spelling.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import torch

EXAMPLES = 5  # keys named per problem in a message


def check_state_dict(expected: Mapping[str, torch.Tensor], state: Mapping[str, Any], where: str, *,
                     ignore: tuple[str, ...] = (), allow_unexpected: bool = False,
                     key_name: Callable[[str], str] = str) -> None:
    """Raise ValueError(`where`: ...) unless `state` has a tensor of the right shape for every expected key.

    Keys starting with a prefix in `ignore` are left out on both sides (e.g. a classifier that is replaced);
    `allow_unexpected` accepts extra keys in `state`; `key_name` spells keys for the message.
    """
    expected = {k: v for k, v in expected.items() if not k.startswith(ignore)} if ignore else expected
    kept = [k for k in state if not (ignore and k.startswith(ignore))]
    missing = [k for k in expected if k not in state]
    unexpected = [] if allow_unexpected else [k for k in kept if k not in expected]
    wrong = [k for k in expected if k in state and not _fits(state[k], expected[k])]
    problems = []
    if missing:
        problems.append(f"{len(missing)} keys missing, e.g. {[key_name(k) for k in missing[:EXAMPLES]]}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys, e.g. {[key_name(k) for k in unexpected[:EXAMPLES]]}")
    for key in wrong[:EXAMPLES]:
        value = state[key]
        found = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        problems.append(f"{key_name(key)} has shape {found}, expected {tuple(expected[key].shape)}")
    if len(wrong) > EXAMPLES:
        problems.append(f"{len(wrong) - EXAMPLES} more keys of another shape")
    if problems:
        raise ValueError(f"{where}: {'; '.join(problems)}")


def _fits(value: Any, target: torch.Tensor) -> bool:
    return isinstance(value, torch.Tensor) and value.shape == target.shape


def weights_fingerprint(state: Mapping[str, torch.Tensor]) -> str:
    """sha256 of a state dict's names, shapes and values (floating tensors as float32), in hex.

    Two files that hold the same weights in different storage types (a float16 shipped copy and its
    float32 original loaded back) give the same fingerprint; any changed value gives another.
    """
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].detach().cpu()
        if tensor.is_floating_point():
            tensor = tensor.float()
        digest.update(f"{key}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
        digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()
