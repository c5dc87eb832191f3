"""ONNX export of a PCNN and an onnxruntime model that answers like the torch one.

The export uses torch's dynamo-based exporter (`torch.export` + onnxscript) at opset 18, its native opset
(with torch 2.14 its conversion down to 17 fails on this graph); the older TorchScript exporter cannot express
the STN's adaptive pooling once the batch size is dynamic. The model's config travels in the file's metadata
(`pcnn_fer_config`), so an exported file is never separated from its class names, input size and normalisation.
"""

from __future__ import annotations

import copy
import importlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from pcnn_fer.models.pcnn import PCNN, PCNNConfig, PCNNOutput

if TYPE_CHECKING:
    import onnx

DEFAULT_OPSET = 18
INPUT_NAME = "images"
CONFIG_KEY = "pcnn_fer_config"


# The exporter's graph passes log every rewrite at INFO and a failed opset conversion as a traceback; the
# outcome is checked below and reported in one line instead.
EXPORTER_LOGGERS = ("onnxscript", "onnx_ir")


def _onnx_extra(name: str, purpose: str) -> ModuleType:
    """Import a package of the optional `onnx` extra, or say how to install it (the CLI reports RuntimeError)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise RuntimeError(f"{purpose} needs onnx and onnxruntime (with onnxscript for export), and {name} is not "
                           f"installed: pip install 'pcnn-fer[onnx]'") from None


@contextmanager
def _quiet(names: tuple[str, ...]) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


class _Outputs(nn.Module):
    """The PCNN with its None outputs dropped: ONNX graphs return tensors only."""

    def __init__(self, model: PCNN) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(t for t in self.model(images) if t is not None)


def output_names(config: PCNNConfig) -> list[str]:
    """The graph's outputs: the PCNNOutput fields the model produces, in PCNNOutput order."""
    if config.organs:
        return list(PCNNOutput._fields)
    return [name for name in PCNNOutput._fields if name not in ("organ_logits", "per_organ_logits")]


def to_onnx_proto(model: PCNN, opset: int = DEFAULT_OPSET) -> onnx.ModelProto:
    """The model as an onnx ModelProto with a dynamic batch axis and its config in the metadata."""
    for name in ("onnx", "onnxscript"):  # torch's dynamo exporter imports both
        _onnx_extra(name, "ONNX export")
    config = model.config
    # Export traces on the CPU in eval mode; a copy keeps the caller's model where and as it was.
    model = copy.deepcopy(model).cpu().eval()
    example = torch.zeros(1, 3, config.input_size, config.input_size)
    with _quiet(EXPORTER_LOGGERS):
        program = torch.onnx.export(
            _Outputs(model).eval(), (example,), input_names=[INPUT_NAME], output_names=output_names(config),
            opset_version=opset, dynamo=True, verbose=False,
            dynamic_shapes={"images": {0: torch.export.Dim("batch", min=1)}})
    proto = program.model_proto
    produced = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if produced != opset:
        # The exporter writes its native opset and converts; when conversion fails it warns and keeps its own.
        raise ValueError(f"torch's ONNX exporter could not write opset {opset} for this model (it produced "
                         f"opset {produced}); use opset {produced}")
    entry = proto.metadata_props.add()
    entry.key, entry.value = CONFIG_KEY, json.dumps(config.to_dict())
    return proto


def export_onnx(model: PCNN, path: str | Path, opset: int = DEFAULT_OPSET) -> Path:
    """Write the model to an ONNX file (weights inside the file) and return its path."""
    onnx_package = _onnx_extra("onnx", "ONNX export")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    proto = to_onnx_proto(model, opset)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        onnx_package.save_model(proto, str(tmp))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


class OnnxModel:
    """An onnxruntime session called like a PCNN: a (N, 3, H, W) batch in, a PCNNOutput of torch tensors out."""

    def __init__(self, source: str | Path | bytes, *, threads: int | None = None, optimization: str = "all") -> None:
        ort = _onnx_extra("onnxruntime", "running a model with onnxruntime")

        levels = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                  "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                  "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
        if optimization not in levels:
            raise ValueError(f"optimization must be one of {sorted(levels)}, got {optimization!r}")
        options = ort.SessionOptions()
        options.graph_optimization_level = levels[optimization]
        options.log_severity_level = 3
        # Idle threads sleep instead of spinning: the detector runs in torch between model calls and would
        # otherwise share the cores with busy-waiting onnxruntime threads.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        name = "<in-memory ONNX model>" if isinstance(source, bytes) else str(source)
        if not isinstance(source, bytes) and not Path(source).is_file():
            raise FileNotFoundError(f"{source}: no such ONNX file")
        try:
            self.session = ort.InferenceSession(source if isinstance(source, bytes) else str(source), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            raise ValueError(f"{name}: not a loadable ONNX model ({error})") from None
        metadata = self.session.get_modelmeta().custom_metadata_map
        if CONFIG_KEY not in metadata:
            raise ValueError(f"{name}: no {CONFIG_KEY!r} metadata; export it with `pcnn-fer export`")
        self.config = PCNNConfig.from_dict(json.loads(metadata[CONFIG_KEY]))
        self.outputs = [o.name for o in self.session.get_outputs()]
        missing = set(output_names(self.config)) - set(self.outputs)
        if missing:
            raise ValueError(f"{name}: outputs {sorted(missing)} missing; expected {output_names(self.config)}")

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.config.class_names

    def __call__(self, images: torch.Tensor | np.ndarray) -> PCNNOutput:
        array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
        values = self.session.run(self.outputs, {INPUT_NAME: np.ascontiguousarray(array, dtype=np.float32)})
        produced = {name: torch.from_numpy(value) for name, value in zip(self.outputs, values)}
        return PCNNOutput(*(produced.get(field) for field in PCNNOutput._fields))


def onnx_model_of(model: PCNN, *, threads: int | None = None, opset: int = DEFAULT_OPSET) -> OnnxModel:
    """An onnxruntime copy of `model`, exported in memory."""
    _onnx_extra("onnxruntime", "running a model with onnxruntime")  # before spending an export on it
    return OnnxModel(to_onnx_proto(model, opset).SerializeToString(), threads=threads)
