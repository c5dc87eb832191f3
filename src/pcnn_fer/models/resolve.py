"""One answer to "which model?": every command's --model and every Python entry take the same references.

A reference is None (the default shipped model), a shipped model's name in any case or its `Pretrained` member,
a model directory (config.json + model.safetensors), or a training run's directory (its selected model).
"""

from __future__ import annotations

from pathlib import Path

from pcnn_fer.models.layout import CONFIG_FILE, FOLD_PREFIX, SELECTED
from pcnn_fer.models.pretrained import Pretrained, PretrainedEntry

ModelReference = str | Path | Pretrained | PretrainedEntry | None


class ModelNotFoundError(FileNotFoundError):
    """A model reference that names no shipped model, model directory or training run."""


def resolve_model(reference: ModelReference) -> Path:
    """The model directory `reference` names; ModelNotFoundError says in one line what was tried."""
    if reference is None:
        return Pretrained.DEFAULT.path
    if isinstance(reference, Pretrained | PretrainedEntry):  # a member forwards `path` to its entry
        return reference.path
    entry = Pretrained.find(str(reference))
    if entry is not None:
        return entry.path
    path = Path(reference)
    for candidate in (path, path / SELECTED):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    raise ModelNotFoundError(f"no model {str(reference)!r}: {_what_was_tried(path)}")


def _what_was_tried(path: Path) -> str:
    names = ", ".join(Pretrained.names())
    tried = (f"not a shipped model ({names}), not a model directory (no {path / CONFIG_FILE}), not a training "
             f"run (no {path / SELECTED / CONFIG_FILE})")
    if path.is_file():
        return f"{tried}; {path} is a file: name the directory that holds {CONFIG_FILE}"
    folds = sorted(path.glob(f"{FOLD_PREFIX}*/{SELECTED}/{CONFIG_FILE}")) if path.is_dir() else []
    if folds:
        return (f"{tried}; it is a cross-validation run: name one fold ({folds[0].parents[1]}), or score every "
                f"fold with pcnn-fer eval")
    return tried
