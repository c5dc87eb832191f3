"""Import the PCNN authors' checkpoints (`rafdb.pth`, ...) into our PCNN, and say what was left out.

The reference model builds seven torchvision ResNet-18s (`resnet`, `resnet1` ... `resnet6`) and views
their children through `featuresN` sequentials, so its state_dict holds 1,440 keys of which 870 are
distinct. Our PCNN registers only what the forward pass uses; the keys below are that part, renamed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pcnn_fer.models.pcnn import PCNN
from pcnn_fer.models.registry import create_model
from pcnn_fer.models.state import check_state_dict
from pcnn_fer.weights.safe_pickle import DATA_PARALLEL_PREFIX, safe_load
from pcnn_fer.weights.sources import sha256_of

REFERENCE_VARIANT = "pcnn_r18"

# Reference prefix -> ours. The organ order is the reference's crop order, which is ORGANS' order:
# features2/fc2 top-left (left eye), features3/fc3 top-right, features4/fc4 and features6/fc6 the
# cheek band, features7/fc7 the mouth. features8 is Sequential(resnet.layer4).
KEY_PREFIXES: dict[str, str] = {
    "features1.": "global_trunk.",
    **{f"features{n}.": f"organ_trunks.{i}." for i, n in enumerate((2, 3, 4, 6, 7))},
    "features8.0.": "final_stage.",
    "fc_loc.": "stn_head.",
    "fc.": "head.",
    **{f"fc{n}.": f"organ_heads.{i}." for i, n in enumerate((2, 3, 4, 6, 7))},
}


@dataclass(frozen=True)
class ImportReport:
    """Which reference keys went into the model and which were ignored, with the checkpoint's provenance."""

    source: Path
    loaded: tuple[str, ...]
    ignored: dict[str, tuple[str, ...]]  # grouped by the key's first component, e.g. "resnet4"
    stand_ins: tuple[str, ...] = ()  # classes of the writing script, kept as inert data
    extras: dict[str, Any] = field(default_factory=dict)  # epoch, best_acc when the file has them

    @property
    def num_ignored(self) -> int:
        """How many checkpoint keys were left out, over every reason."""
        return sum(len(keys) for keys in self.ignored.values())

    def summary(self) -> str:
        """A few lines for people: loaded count, ignored keys by prefix, stand-ins."""
        lines = [f"{self.source.name}: loaded {len(self.loaded)} tensors into {REFERENCE_VARIANT}"]
        if self.ignored:
            groups = ", ".join(f"{prefix} ({len(keys)})" for prefix, keys in sorted(self.ignored.items()))
            lines.append(f"ignored {self.num_ignored} keys unused by the forward pass or aliasing loaded ones: "
                         f"{groups}")
        if self.stand_ins:
            lines.append(f"kept as inert data, never imported: {', '.join(self.stand_ins)}")
        if self.extras:
            lines.append("checkpoint info: " + ", ".join(f"{k}={v}" for k, v in self.extras.items()))
        return "\n".join(lines)

    def metadata(self) -> dict[str, Any]:
        """Provenance to store with the converted model."""
        return {"source": {"format": "reference PCNN checkpoint", "file": self.source.name,
                           "sha256": sha256_of(self.source), **self.extras}}


def map_reference_keys(state_dict: Mapping[str, torch.Tensor], source: Path | str = "<state_dict>") -> tuple[
        dict[str, torch.Tensor], dict[str, tuple[str, ...]]]:
    """Rename a reference state_dict to our keys: (our tensors, ignored reference keys by prefix)."""
    ours: dict[str, torch.Tensor] = {}
    ignored: dict[str, list[str]] = {}
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise ValueError(f"{source}: state_dict key {key!r} is a {type(key).__name__}, expected a str "
                             f"such as 'features1.0.weight'")
        key = key.removeprefix(DATA_PARALLEL_PREFIX)
        prefix = next((p for p in KEY_PREFIXES if key.startswith(p)), None)
        if prefix is None:
            ignored.setdefault(key.split(".", 1)[0], []).append(key)
            continue
        ours[KEY_PREFIXES[prefix] + key[len(prefix):]] = value
    return ours, {group: tuple(keys) for group, keys in ignored.items()}


def reference_state_dict(content: Any, source: Path | str = "<checkpoint>") -> Mapping[str, torch.Tensor]:
    """The state_dict inside an unpickled checkpoint: `content['state_dict']`, or `content` if it is one."""
    if isinstance(content, Mapping) and isinstance(content.get("state_dict"), Mapping):
        return content["state_dict"]
    if isinstance(content, Mapping) and content and all(isinstance(v, torch.Tensor) for v in content.values()):
        return content
    found = sorted(map(str, content))[:8] if isinstance(content, Mapping) else type(content).__name__
    raise ValueError(f"{source}: expected a state_dict or a dict with a 'state_dict' entry, found {found}")


def import_reference_state_dict(state_dict: Mapping[str, torch.Tensor], class_names: Sequence[str] | None = None,
                                source: Path | str = "<state_dict>") -> tuple[PCNN, ImportReport]:
    """Build our PCNN from a reference state_dict; every tensor the model needs must be there."""
    ours, ignored = map_reference_keys(state_dict, source)
    head = ours.get("head.weight")
    if not isinstance(head, torch.Tensor) or head.dim() != 2:
        raise ValueError(f"{source}: no 'fc.weight' matrix, so this is not a reference PCNN state_dict "
                         f"(first keys: {sorted(state_dict)[:5]})")
    num_classes = head.shape[0]
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(f"{source}: fc.weight has {num_classes} outputs but {len(class_names)} class names "
                         f"were given ({', '.join(class_names)})")
    model = create_model(REFERENCE_VARIANT, class_names=class_names, num_classes=num_classes)
    expected = model.state_dict()
    check_state_dict(expected, ours, f"{source} does not fit the reference PCNN ({num_classes} classes)",
                     key_name=_reference_name)
    model.load_state_dict(ours, strict=True)
    report = ImportReport(Path(source), tuple(_reference_name(k) for k in expected), ignored)
    return model.eval(), report


def import_reference_checkpoint(path: str | Path,
                                class_names: Sequence[str] | None = None) -> tuple[PCNN, ImportReport]:
    """Read an authors' checkpoint (or a bare reference state_dict) without running its code; eval mode."""
    checkpoint = safe_load(path)
    state_dict = reference_state_dict(checkpoint.content, checkpoint.path)
    model, report = import_reference_state_dict(state_dict, class_names, checkpoint.path)
    extras = {}
    if isinstance(checkpoint.content, Mapping):
        extras = {k: _plain(checkpoint.content[k]) for k in ("epoch", "best_acc") if k in checkpoint.content}
    return model, ImportReport(report.source, report.loaded, report.ignored, checkpoint.stand_ins,
                               {k: v for k, v in extras.items() if v is not None})


def _reference_name(key: str) -> str:
    """Our key back in the reference's spelling, for messages."""
    for theirs, ours in KEY_PREFIXES.items():
        if key.startswith(ours):
            return theirs + key[len(ours):]
    return key


def _plain(value: Any) -> int | float | None:
    """A JSON-friendly number from an int, a float, or a one-element tensor or array; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, (np.ndarray, np.generic)) and value.size == 1:
        return value.item()
    return None
