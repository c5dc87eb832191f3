"""Read torch checkpoints (zip or legacy format) without running code from the file.

A pickle may name any importable callable and call it while it is read. Here only an allow-list of
tensor-rebuilding functions and plain containers is ever resolved; every other global becomes an inert
stand-in class that is never imported. A stand-in may be instantiated as a plain object (that is how a
training script's own classes, such as a `RecorderMeter`, are pickled) and keeps its state as data, but
a file that asks to *call* an unknown global (`os.system`, `builtins.eval`, ...) is refused outright.

numpy values inside such objects (a recorder's loss curves) are recorded, never handed to numpy: a
pickled numpy dtype or array state can describe memory that numpy would trust. Plain numeric numpy
scalars (a `best_acc`) are decoded here, from their bytes.
"""

from __future__ import annotations

import collections
import pickle
import re
import types
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch._utils

NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")  # numpy 1 and numpy 2 spellings
# numpy globals whose calls build values that are kept as inert records instead of being refused.
RECORDED_CALLS = frozenset({"numpy.dtype", "numpy.ndarray", *(f"{m}._reconstruct" for m in NUMPY_MODULES)})
_PLAIN_NUMBER = re.compile(r"[biuf][1248]")  # bool, signed, unsigned and float type codes such as "f8"
# What torch.nn.DataParallel puts before every key of the state_dicts saved from it.
DATA_PARALLEL_PREFIX = "module."


class UnsafeCheckpointError(ValueError):
    """The file asks to run code while it is read, or is a format that carries code."""


class _StandInType(type):
    """Metaclass of stand-ins: instantiating through a call (pickle's REDUCE) is refused."""

    global_name: str
    recorded_calls: bool

    def __call__(cls, *args, **kwargs):
        if cls.recorded_calls and not kwargs:
            return cls.__new__(cls, *args)
        raise UnsafeCheckpointError(f"the file asks to call {cls.global_name}(...) while it is read; refusing it: "
                                    f"a checkpoint should hold tensors and plain data, not code")


class StandIn(metaclass=_StandInType):
    """An object of a class this loader does not know, kept as data: constructor args and pickled state."""

    global_name = "?"
    recorded_calls = False

    def __new__(cls, *args):
        instance = object.__new__(cls)
        object.__setattr__(instance, "args", args)
        object.__setattr__(instance, "state", None)
        return instance

    def __setstate__(self, state: Any) -> None:
        object.__setattr__(self, "state", state)

    def __repr__(self) -> str:
        return f"<stand-in for {self.global_name}>"


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """What protocol-2 pickles use to spell bytes; only the latin-1 codec is accepted."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise UnsafeCheckpointError(f"_codecs.encode is only allowed with the latin1 codec, got {encoding!r}")
    return text.encode("latin1")


def _bytearray(data: bytes | str = b"", encoding: str | None = None) -> bytearray:
    """How pickles spell a bytearray: from bytes (protocols 3-4), or from a latin-1 string (protocols 0-2).

    The builtin itself is never handed to the file: `bytearray(10**12)` would allocate a terabyte. Only
    data already read from the file is accepted, so the result is never larger than the file.
    """
    if isinstance(data, bytes) and encoding is None:
        return bytearray(data)
    if isinstance(data, str) and encoding in ("latin1", "latin-1"):
        return bytearray(data.encode("latin1"))
    raise UnsafeCheckpointError(f"bytearray is only built from bytes or a latin1 string, got a "
                                f"{type(data).__name__} and encoding {encoding!r}")


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    """A plain number from a pickled numpy scalar of a numeric dtype; anything else stays an inert record."""
    code = dtype.args[0] if isinstance(dtype, StandIn) and dtype.global_name == "numpy.dtype" and dtype.args else None
    if isinstance(code, str) and _PLAIN_NUMBER.fullmatch(code) and isinstance(data, bytes):
        order = dtype.state[1] if isinstance(dtype.state, tuple) and len(dtype.state) > 1 else "="
        decoded = np.dtype(code).newbyteorder(order if order in ("<", ">") else "=")
        if len(data) == decoded.itemsize:
            return np.frombuffer(data, decoded)[0].item()
    return _stand_in_class("numpy.core.multiarray.scalar", recorded_calls=True)(dtype, data)


def _stand_in_class(global_name: str, recorded_calls: bool = False) -> type:
    name = global_name.rsplit(".", 1)[-1]
    return _StandInType(name, (StandIn,), {"global_name": global_name, "recorded_calls": recorded_calls,
                                           "__module__": __name__})


def _allowed_globals() -> dict[str, Any]:
    allowed: dict[str, Any] = {
        "collections.OrderedDict": collections.OrderedDict,
        "torch._utils._rebuild_tensor_v2": torch._utils._rebuild_tensor_v2,
        "torch._utils._rebuild_parameter": torch._utils._rebuild_parameter,
        "torch.Size": torch.Size,
        "torch.device": torch.device,
        "_codecs.encode": _latin1_bytes,
        **{f"{module}.scalar": _numpy_scalar for module in NUMPY_MODULES},
    }
    for name, constructor in (("set", set), ("frozenset", frozenset), ("bytearray", _bytearray),
                              ("complex", complex), ("slice", slice)):
        # Protocol-2 pickles spell builtins by their Python 2 module name.
        allowed[f"builtins.{name}"] = allowed[f"__builtin__.{name}"] = constructor
    for name in dir(torch):
        if isinstance(getattr(torch, name, None), torch.dtype):
            allowed[f"torch.{name}"] = getattr(torch, name)
    return allowed


ALLOWED_GLOBALS: dict[str, Any] = _allowed_globals()


@dataclass(frozen=True)
class UnpickledCheckpoint:
    """What a checkpoint holds, and which globals it named that were replaced by stand-ins."""

    path: Path
    content: Any
    stand_ins: tuple[str, ...]


def _restricted_pickle_module(stand_ins: dict[str, type]) -> types.ModuleType:
    """A module-like object for torch.load(pickle_module=...), whose unpickler resolves only ALLOWED_GLOBALS."""

    class RestrictedUnpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            key = f"{module}.{name}"
            if key in ALLOWED_GLOBALS:
                return ALLOWED_GLOBALS[key]
            if key not in stand_ins:
                stand_ins[key] = _stand_in_class(key, recorded_calls=key in RECORDED_CALLS)
            return stand_ins[key]

    module = types.ModuleType("pcnn_fer_restricted_pickle")
    module.Unpickler = RestrictedUnpickler
    module.load = lambda file, **kwargs: RestrictedUnpickler(file, **kwargs).load()
    return module


def _refuse_torchscript(path: Path) -> None:
    # torch.load hands TorchScript archives to torch.jit.load, which runs the archive's code.
    if not zipfile.is_zipfile(path):
        return
    with zipfile.ZipFile(path) as archive:
        records = {name.split("/", 1)[-1] for name in archive.namelist()}
    if any(record == "constants.pkl" or record.startswith("code/") for record in records):
        raise UnsafeCheckpointError(f"{path} is a TorchScript archive, which carries code; refusing it. "
                                    f"Save the model's state_dict with torch.save instead.")


def safe_load(path: str | Path) -> UnpickledCheckpoint:
    """Read a torch checkpoint onto the CPU; unknown classes become StandIn objects, unknown calls are refused."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    _refuse_torchscript(path)
    stand_ins: dict[str, type] = {}
    try:
        content = torch.load(path, map_location="cpu", pickle_module=_restricted_pickle_module(stand_ins),
                             weights_only=False, mmap=False)
    except UnsafeCheckpointError as error:
        raise UnsafeCheckpointError(f"{path}: {error}") from error
    except Exception as error:  # a crafted file can make torch's reader fail in any way (IndexError, ...)
        raise ValueError(f"{path} is not a readable torch checkpoint: {type(error).__name__}: {error}") from error
    return UnpickledCheckpoint(path, content, tuple(sorted(stand_ins)))
