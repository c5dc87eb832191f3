"""ONNX export of a PCNN and an onnxruntime model that answers like the torch one.

The export uses torch's dynamo-based exporter (`torch.export` + onnxscript) at opset 18, its native opset
(with torch 2.14 its conversion down to 17 fails on this graph); the older TorchScript exporter cannot express
the STN's adaptive pooling once the batch size is dynamic. The model's config travels in the file's metadata
(`pcnn_fer_config`), so an exported file is never separated from its class names, input size and normalisation,
with a fingerprint of the weights it was exported from (`pcnn_fer_weights_sha256`), so that a file exported from
other weights is refused instead of answering for a model it is not.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
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

from pcnn_fer.atomic import atomic_path
from pcnn_fer.models.pcnn import PCNN, PCNNConfig, PCNNOutput
from pcnn_fer.models.state import weights_fingerprint
from pcnn_fer.progress import progress
from pcnn_fer.weights.sources import cache_root

if TYPE_CHECKING:
    import onnx

log = logging.getLogger(__name__)
DEFAULT_OPSET = 18
INPUT_NAME = "images"
CONFIG_KEY = "pcnn_fer_config"
WEIGHTS_KEY = "pcnn_fer_weights_sha256"
ONNX_FILE = "model.onnx"  # an export kept beside a model directory's model.safetensors
PARITY_TOLERANCE = 1e-4  # largest |logit difference| from torch accepted in an export


# The exporter's graph passes log every rewrite at INFO and a failed opset conversion as a traceback; the
# outcome is checked below and reported in one line instead.
EXPORTER_LOGGERS = ("onnxscript", "onnx_ir")


def _onnx_extra(name: str, purpose: str) -> ModuleType:
    """Import a package of the optional `onnx` extra, or say how to install it (the CLI reports RuntimeError)."""
    try:
        return importlib.import_module(name)
    except ImportError as cause:
        raise RuntimeError(f"{purpose} needs onnx and onnxruntime (with onnxscript for export), and {name} is not "
                           f"installed: pip install 'pcnn-fer[onnx]'") from cause


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
    stamps = {CONFIG_KEY: json.dumps(config.to_dict()), WEIGHTS_KEY: weights_fingerprint(model.state_dict())}
    for key, value in stamps.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return proto


def export_onnx(model: PCNN, path: str | Path, opset: int = DEFAULT_OPSET) -> Path:
    """Write the model to an ONNX file (weights inside the file) and return its path."""
    onnx_package = _onnx_extra("onnx", "ONNX export")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    proto = to_onnx_proto(model, opset)
    with atomic_path(path) as partial:
        onnx_package.save_model(proto, str(partial))
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
            raise ValueError(f"{name}: not a loadable ONNX model ({error})") from error
        metadata = self.session.get_modelmeta().custom_metadata_map
        if CONFIG_KEY not in metadata:
            raise ValueError(f"{name}: no {CONFIG_KEY!r} metadata; export it with `pcnn-fer export`")
        self.config = PCNNConfig.from_dict(json.loads(metadata[CONFIG_KEY]))
        self.weights_fingerprint: str | None = metadata.get(WEIGHTS_KEY)  # absent in files of earlier versions
        self.outputs = [o.name for o in self.session.get_outputs()]
        missing = set(output_names(self.config)) - set(self.outputs)
        if missing:
            raise ValueError(f"{name}: outputs {sorted(missing)} missing; expected {output_names(self.config)}")

    @property
    def class_names(self) -> tuple[str, ...]:
        """The output classes, in logit order."""
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


def check_parity(model: PCNN, onnx_model: OnnxModel, where: str, tolerance: float = PARITY_TOLERANCE,
                 count: int = 2) -> float:
    """Largest |logit difference| between onnxruntime and torch on `count` seeded random inputs.

    Raises RuntimeError above `tolerance`: an export that answers differently must not be used.
    """
    size = model.config.input_size
    images = torch.randn(count, 3, size, size, generator=torch.Generator().manual_seed(0))
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            expected = model(images.to(next(model.parameters()).device)).logits.float().cpu()
    finally:
        model.train(was_training)
    difference = float((onnx_model(images).logits - expected).abs().max())
    if difference > tolerance:
        raise RuntimeError(f"{where}: onnxruntime logits differ from torch by {difference:.2e} (> {tolerance:g}); "
                           f"do not use this export")
    return difference


def stored_onnx_model(model: PCNN, directory: str | Path, *, threads: int | None = None,
                      export: bool = False, show_progress: bool = True) -> OnnxModel:
    """The ONNX export of the model loaded from `directory`, checked to hold the very same weights.

    DIR/model.onnx (written by `pcnn-fer export`) is used when present, else an export kept in the cache under
    the weights' fingerprint. A file exported from other weights is refused, and nothing is exported (which
    takes tens of seconds) unless `export` asks for it: then a fresh export replaces a stale DIR/model.onnx, or
    goes into the cache, where later runs find it. Processes exporting the same weights at once take turns, and
    those that wait use the first one's export.
    """
    directory = Path(directory)
    fingerprint = weights_fingerprint(model.state_dict())
    beside = directory / ONNX_FILE
    cached = cache_root() / "onnx" / f"{fingerprint}.onnx"
    path = beside if beside.is_file() else cached
    existing = OnnxModel(path, threads=threads) if path.is_file() else None
    if existing is not None and _holds(existing, model, fingerprint):
        return existing
    if not export:
        if existing is not None:
            stale = existing.weights_fingerprint or "none (an export of an earlier pcnn-fer)"
            raise ValueError(f"{path} was not exported from the weights in {directory} (weights fingerprint "
                             f"{stale}, expected {fingerprint}); export again: --export-onnx, or "
                             f"pcnn-fer export --model {directory} --output {path}")
        raise ValueError(f"{directory} has no ONNX export yet: add --export-onnx (export_onnx=True) to export it "
                         f"once (it is kept as {cached}), or write one with "
                         f"pcnn-fer export --model {directory} --output {beside}")
    with _exporting(cache_root() / "onnx" / f"{fingerprint}.lock"):
        if path.is_file():  # another process's export, made while this one waited
            found = OnnxModel(path, threads=threads)
            if _holds(found, model, fingerprint):
                return found
        bar = progress(None, 2, f"exporting {directory.name} to ONNX, once (tens of seconds; kept in {path.parent})",
                       enabled=show_progress, unit="step")
        try:
            export_onnx(model, path)
            bar.update(1)
            onnx_model = OnnxModel(path, threads=threads)
            check_parity(model, onnx_model, str(path))
            bar.update(1)
        finally:
            bar.close()
    return onnx_model


def _holds(onnx_model: OnnxModel, model: PCNN, fingerprint: str) -> bool:
    """Whether an export holds exactly `model`'s weights (`fingerprint`) and config."""
    return onnx_model.weights_fingerprint == fingerprint and onnx_model.config == model.config


@contextmanager
def _exporting(lock: Path) -> Iterator[None]:
    """Hold `lock` while exporting, so that processes exporting the same weights wait for each other."""
    try:
        import fcntl
    except ImportError:  # not POSIX: exports are written atomically all the same
        yield
        return
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        yield


def fastest_runtime(model: PCNN, directory: str | Path, *, threads: int | None = None, export: bool = False,
                    show_progress: bool = True) -> OnnxModel | None:
    """The onnxruntime copy of the model loaded from `directory` where it is safe and available, else None (run it
    in torch): on the CPU, with onnxruntime installed, from an export of exactly these weights (DIR/model.onnx or
    one in the cache). A shipped model, or any with `export`, is exported on first use (tens of seconds, once,
    shown as progress); an export that fails or answers differently from torch leaves the model to torch."""
    if next(model.parameters()).device.type != "cpu" or importlib.util.find_spec("onnxruntime") is None:
        return None
    from pcnn_fer.models.pretrained import Pretrained

    directory = Path(directory)
    shipped = any(directory.resolve() == entry.path.resolve() for entry in Pretrained)
    try:
        return stored_onnx_model(model, directory, threads=threads, export=export or shipped,
                                 show_progress=show_progress)
    except ValueError:
        return None  # no export of these weights, and none asked for
    except RuntimeError as error:
        log.warning("%s: running the model in torch: %s", directory, error)
        return None
