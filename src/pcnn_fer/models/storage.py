"""Our own model directories: config.json (architecture, classes, input convention, provenance) +
model.safetensors. Loading reads tensors and JSON only, never code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import ConfigDict, Field
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from pcnn_fer.atomic import atomic_path, write_text
from pcnn_fer.devices import resolve_device
from pcnn_fer.models.layout import CONFIG_FILE, WEIGHTS_FILE
from pcnn_fer.models.metadata import ModelMetadata
from pcnn_fer.models.pcnn import PCNN, PCNNConfig, count_parameters
from pcnn_fer.models.resolve import ModelReference, resolve_model
from pcnn_fer.models.state import check_state_dict
from pcnn_fer.validation import Checked
from pcnn_fer.version import __version__

FORMAT = "pcnn-fer"
FORMAT_VERSION = 1
__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "load_model", "read_config", "save_model"]


def save_model(model: PCNN, directory: str | Path, metadata: ModelMetadata | dict | None = None,
               storage_dtype: torch.dtype | None = None) -> Path:
    """Write `model` to `directory`, each file atomically (pcnn_fer.atomic).

    `metadata` None keeps the model's own (`model.metadata`, what load_model read), so a loaded model saved
    again still says how it must be fed (framing, calibration) and how well it does.
    `storage_dtype` (e.g. torch.float16, half the size for a model shipped in a wheel) stores floating-point
    tensors in that type; loading casts them back to the model's float32.
    """
    if getattr(model, "inference_only", False):
        raise ValueError("this model was optimised for inference (BatchNorm folded); save the original model")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: _stored(v.detach().cpu(), storage_dtype).contiguous() for k, v in model.state_dict().items()}
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "pcnn_fer_version": __version__,
        "config": model.config.to_dict(),
        "num_parameters": count_parameters(model),
        "metadata": _as_metadata(model.metadata if metadata is None else metadata).to_dict(),
    }
    with atomic_path(directory / WEIGHTS_FILE) as partial:
        save_file(tensors, str(partial), metadata={"format": FORMAT})
    write_text(directory / CONFIG_FILE, json.dumps(document, indent=2) + "\n")
    return directory


class ModelDocument(Checked):
    """config.json as a whole: what each part must be before the parts are read."""

    model_config = ConfigDict(extra="allow")  # entries of later writers (e.g. pcnn_fer_version) are kept
    what = "config.json"

    format: Literal[FORMAT]
    format_version: int = 0
    config: dict[str, Any]
    metadata: dict[str, Any] = Field(default_factory=dict)


def read_config(directory: str | Path) -> tuple[PCNNConfig, ModelMetadata]:
    """The model config and the metadata (metrics, dataset, recipe, framing, licence) of a directory."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: a pcnn-fer model directory holds {CONFIG_FILE} and "
                                f"{WEIGHTS_FILE} (made by save_pretrained or `pcnn-fer convert`)")
    try:
        document = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON text: {error}") from error
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a JSON object, found {type(document).__name__}")
    try:
        document = ModelDocument(**document)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    if document.format_version > FORMAT_VERSION:
        raise ValueError(f"{path}: format version {document.format_version} is newer than this pcnn-fer "
                         f"reads ({FORMAT_VERSION}); upgrade pcnn-fer")
    try:
        config = PCNNConfig.from_dict(document.config)
    except (TypeError, KeyError, ValueError) as error:
        raise ValueError(f"{path}: config: {error}") from error
    try:
        metadata = ModelMetadata.from_dict(document.metadata)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: {error}") from error
    return config, metadata


def load_model(model: ModelReference = None, device: str | torch.device = "cpu") -> PCNN:
    """The model a reference names (a shipped name, a model directory or a training run; None for the default),
    rebuilt from its config and loaded with its tensors, in eval mode."""
    device = resolve_device(device)
    directory = resolve_model(model)
    config, metadata = read_config(directory)
    weights = Path(directory) / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} not found")
    model = PCNN(config)
    try:
        state = load_file(str(weights), device=str(device))
    except SafetensorError as error:
        raise ValueError(f"{weights} is not a readable safetensors file ({error}); the file is damaged or "
                         f"was cut short: copy or export it again") from error
    check_state_dict(model.state_dict(), state,
                     f"{weights} does not fit its config ({config.backbone}, {config.num_classes} classes)")
    model.load_state_dict(state)
    model.metadata = metadata
    return model.to(device).eval()


def _stored(tensor: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    return tensor.to(dtype) if dtype is not None and tensor.is_floating_point() else tensor


def _as_metadata(metadata: ModelMetadata | dict) -> ModelMetadata:
    """The record to store: given as one, or as the JSON object config.json keeps (checked the same way)."""
    return metadata if isinstance(metadata, ModelMetadata) else ModelMetadata.from_dict(metadata)
