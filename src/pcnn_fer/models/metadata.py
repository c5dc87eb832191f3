"""What a model directory says about its model besides the architecture: where it came from, how well it does,
how to feed it. Kept as the `metadata` object of config.json; read back into one typed record, so that a key is
written and read under the same name and shape."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# field name -> the JSON type its value must have (None is always allowed: the entry is absent)
_TYPES: dict[str, type | tuple[type, ...]] = {
    "dataset": str, "fold": str, "recipe": dict, "git_revision": str, "selection": dict, "epoch": int,
    "framing": dict, "calibration": dict, "metrics": dict, "training_data": dict, "source": dict,
}


@dataclass(frozen=True)
class ModelMetadata:
    """A model's provenance, measurements and input framing; entries it does not know travel in `extra`."""

    dataset: str | None = None  # the dataset reader it was trained on
    fold: str | None = None  # the cross-validation fold, when it is one fold's model
    recipe: dict | None = None  # the resolved training recipe
    git_revision: str | None = None  # the tree it was trained from ("-dirty": with uncommitted edits)
    selection: dict | None = None  # how its epoch was chosen: {"rule": val|last|test, "metric": ..., "epoch": N}
    epoch: int | None = None  # epochs trained when it was saved
    framing: dict | None = None  # how faces are cut for it (pcnn_fer.faces.framing.FaceFraming.to_dict())
    calibration: dict | None = None  # the softmax temperature fitted on held-out data: {"temperature": T, ...}
    metrics: dict[str, dict] = field(default_factory=dict)  # measured figures per split: {"test": {"accuracy": ...}}
    training_data: dict = field(default_factory=dict)  # name, protocol, split sizes and terms of the training data
    source: dict | None = None  # provenance of an imported checkpoint (file, sha256, ...)
    extra: dict[str, Any] = field(default_factory=dict)  # every other entry (name, summary, input, ...), as written

    def __post_init__(self) -> None:
        for name, kind in _TYPES.items():
            value = getattr(self, name)
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                raise ValueError(f"model metadata {name!r} must be {_json_name(kind)}, got {value!r}")
        if self.calibration is not None:
            temperature = self.calibration.get("temperature")
            if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not temperature > 0:
                raise ValueError(f"model metadata calibration.temperature must be a positive number, got "
                                 f"{temperature!r}")
        for split, figures in self.metrics.items():
            if not isinstance(figures, dict):
                raise ValueError(f"model metadata metrics.{split} must be an object of figures, got {figures!r}")

    @property
    def temperature(self) -> float:
        """The calibration temperature, 1.0 (no change) when none was fitted."""
        return float(self.calibration["temperature"]) if self.calibration else 1.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON object config.json keeps: known entries that are set, then the extra ones."""
        known = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**{k: v for k, v in known.items() if v not in (None, {}, [])}, **self.extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ModelMetadata:
        """The record of a config.json `metadata` object; unknown entries go to `extra`."""
        data = dict(data or {})
        if isinstance(data.get("selection"), str):  # written as a rule name and a metric before it was a record
            data["selection"] = {"rule": data["selection"], "metric": data.pop("selection_metric", None)}
        known = {name: data.pop(name) for name in list(data) if name in _TYPES}
        return cls(**known, extra=data)



def _json_name(kind: type | tuple[type, ...]) -> str:
    return {str: "a string", int: "an integer", dict: "a JSON object"}[kind]
