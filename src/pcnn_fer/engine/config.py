"""The training recipe: grouped dataclasses, read from YAML, overridden from the command line, checked strictly.

Every field is a knob: `--<group>.<field> VALUE` on the command line, `group: {field: value}` in a recipe.
A misspelt key or a value of the wrong type is an error naming the key and what it accepts, because a typo
silently ignored costs a 100-epoch run.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pcnn_fer.data.datasets import DATASET_NAMES
from pcnn_fer.data.names import AUGMENTATIONS
from pcnn_fer.models.inputs import IMAGENET_MEAN, IMAGENET_STD, MIN_INPUT_SIZE
from pcnn_fer.models.registry import list_variants

AMP_MODES = ("none", "bf16", "fp16")  # automatic mixed precision: off, bfloat16 (CPU and GPU), float16 (CUDA)
DEFAULT_VARIANT = "pcnn_r18"
# Recipe keys renamed since run folders were written: old key -> key now, so that older recipes still load.
RENAMED_KEYS = {"augment.tta_flip": "augment.flip_tta", "data.classes": "data.class_count"}


def _choice(default: str, *choices: str, help: str = ""):
    return field(default=default, metadata={"choices": (default, *choices), "help": help})


def _knob(default, help: str = "", length: int | None = None, minimum: float | None = None,
          maximum: float | None = None, above: float | None = None, below: float | None = None):
    """A recipe field; `minimum`/`maximum` bound a number (or each number of a list) inclusively,
    `above`/`below` exclusively."""
    metadata = {"help": help, "length": length, "minimum": minimum, "maximum": maximum, "above": above,
                "below": below}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class DataConfig:
    """Which dataset, how it is split into folds, and how batches are read."""

    dataset: str = _choice(*DATASET_NAMES, help="dataset reader")
    root: str = _knob("", "dataset directory, as its publisher ships it")
    options: dict = _knob({}, "reader options, e.g. {mode: majority} for FERPlus")
    class_count: int = _knob(0, "how many classes the recipe expects (0: whatever the dataset has)", minimum=0)
    protocol: str = _choice("official", "subject_kfold", "leave_one_subject_out", "random_kfold",
                            help="how train and test are split")
    folds: int = _knob(10, "number of folds for the k-fold protocols", minimum=2)
    run_folds: list[int] = _knob([], "1-based folds to run (empty: all)", minimum=1)
    val_fraction: float = _knob(0.1, "hold-out carved from train for --select val when no val split exists",
                                above=0.0, below=1.0)
    val_by_subject: bool = _knob(False, "carve the hold-out by subject")
    batch_size: int = _knob(128, "global batch size (all processes together)", minimum=1)
    eval_batch_size: int = _knob(0, "batch size for evaluation (0: the training batch size)", minimum=0)
    workers: int = _knob(4, "data-loading worker processes per training process", minimum=0)
    cache: str = _knob("", "directory of a decoded-image cache at the input size (empty: decode every epoch)")
    balanced: bool = _knob(False, "class-balanced sampling")
    skip_bad: bool = _knob(False, "skip unreadable or malformed samples (and report how many)")


@dataclass
class ModelConfig:
    """Which PCNN variant, at what input size, starting from which weights."""

    variant: str = _choice(DEFAULT_VARIANT, *(v for v in list_variants() if v != DEFAULT_VARIANT),
                           help="registered PCNN variant")
    pretrained: str = _knob("imagenet", "imagenet | none | a torchvision state_dict file | a pcnn-fer model or run "
                                        "directory or shipped name (another class set: all but the class heads)")
    input_size: int = _knob(224, "square input size in pixels", minimum=MIN_INPUT_SIZE)
    organs: bool = _knob(True, "organ branches (off: the global branch alone, which also turns fusion and stn off)")
    fusion: bool = _knob(True, "fuse the stitched organ map into the global one (off: organ heads only, no stn)")
    stn: bool = _knob(True, "spatial transformer on the stitched organ map")
    freeze_bn: bool = _knob(False, "keep BatchNorm statistics fixed (for tiny per-process batches)")


@dataclass
class OptimConfig:
    """Optimiser, gradient handling and the two-phase loss weights."""

    name: str = _choice("sgd", "adamw", help="optimiser")
    lr: float = _knob(0.01, "learning rate at the global batch size", above=0.0)
    momentum: float = _knob(0.9, "SGD momentum", minimum=0.0, maximum=1.0)
    nesterov: bool = _knob(False, "Nesterov momentum")
    betas: list[float] = _knob([0.9, 0.999], "AdamW betas", length=2, minimum=0.0, maximum=1.0)
    weight_decay: float = _knob(1e-4, "weight decay", minimum=0.0)
    clip_grad: float = _knob(0.0, "clip the gradient norm to this value (0: off)", minimum=0.0)
    accumulate: int = _knob(1, "gradient accumulation steps per optimiser step", minimum=1)
    loss_alpha: float = _knob(12.0, "weight of the fused head's cross-entropy", minimum=0.0)
    loss_beta: float = _knob(8.0, "weight of the organ heads' cross-entropy", minimum=0.0)
    label_smoothing: float = _knob(0.0, "label smoothing", minimum=0.0, below=1.0)
    logit_adjust: float = _knob(0.0, "add tau * log(class prior) to the logits inside the loss (logit adjustment; "
                                     "1: balanced softmax; 0: off)", minimum=0.0)
    class_weighting: str = _choice("none", "sqrt_inverse", "inverse", help="re-weight each class's loss term by its "
                                                                           "inverse (square-root) frequency")
    skip_nonfinite: bool = _knob(False, "skip steps whose loss is NaN/inf instead of stopping")


@dataclass
class ScheduleConfig:
    """Epochs and the per-epoch learning-rate schedule with its warm-up."""

    name: str = _choice("step", "cosine", "constant", help="learning-rate schedule (per epoch)")
    epochs: int = _knob(100, "training epochs", minimum=1)
    step_size: int = _knob(15, "StepLR period in epochs", minimum=1)
    gamma: float = _knob(0.5, "StepLR factor", above=0.0)
    warmup_epochs: int = _knob(0, "linear warm-up epochs (stepped per iteration)", minimum=0)
    warmup_factor: float = _knob(0.1, "learning-rate factor at the start of warm-up", minimum=0.0, maximum=1.0)
    min_lr: float = _knob(0.0, "cosine floor", minimum=0.0)


@dataclass
class AugmentConfig:
    """Training augmentation, input normalisation and test-time flipping."""

    train: str = _choice(*AUGMENTATIONS, help="training augmentation (reference: the paper's; light: short schedules"
                                              " on small faces; wild: faces as they come in use, batched on the "
                                              "training device)")
    working_size: int = _knob(0, "batched policies (wild): the size the loader hands faces over at (0: the input "
                                 "size; FER2013's 48 px faces: 48)", minimum=0)
    mean: list[float] = _knob(list(IMAGENET_MEAN), "normalisation mean (RGB)", length=3)
    std: list[float] = _knob(list(IMAGENET_STD), "normalisation std (RGB)", length=3)
    flip_tta: bool = _knob(False, "average predictions with the horizontally flipped image at evaluation")


@dataclass
class EmaConfig:
    """Exponential moving average of the weights, evaluated and kept in place of the raw weights."""

    enabled: bool = _knob(False, "keep an exponential moving average of the weights and evaluate it")
    decay: float = _knob(0.999, "EMA decay per optimiser step", minimum=0.0, maximum=1.0)


@dataclass
class DistillConfig:
    """Learning from a larger model: its predictions on the training faces, computed once, blended into the targets."""

    teacher: str = _knob("", "the teacher: a model directory, training run or shipped name (empty: off)")
    weight: float = _knob(0.5, "share of the teacher's distribution in each training target", minimum=0.0,
                          maximum=1.0)
    temperature: float = _knob(2.0, "softens the teacher's logits before they become a distribution", above=0.0)


@dataclass
class DistributedConfig:
    """Process-group settings under torchrun."""

    backend: str = _choice("auto", "nccl", "gloo", help="process-group backend under torchrun")
    sync_bn: bool = _knob(False, "SyncBatchNorm across processes (CUDA only)")


@dataclass
class MiscConfig:
    """Seeding, device and precision, model selection, output location and verbosity."""

    seed: int = _knob(0, "seeds Python, NumPy, torch and data-loader workers", minimum=0)
    deterministic: bool = _knob(False, "deterministic algorithms (slower; needed for bit-exact resume)")
    device: str = _knob("auto", "auto | cpu | cuda | cuda:N")
    amp: str = _choice(*AMP_MODES, help="automatic mixed precision")
    channels_last: bool = _knob(False, "channels-last memory format (faster steps on CPUs, and on GPUs with AMP)")
    compile: bool = _knob(False, "torch.compile the model")
    select: str = _choice("val", "last", "test", help="which epoch's weights are kept as the result")
    select_metric: str = _choice("accuracy", "mean_class_accuracy", "macro_f1", help="metric for --select")
    organ_weight: float = _knob(0.0, "also report logits + w * organ_logits at evaluation (0: off)", minimum=0.0)
    output: str = _knob("runs", "parent directory of run directories")
    name: str = _knob("", "run directory name (default: dataset-variant-time)")
    threads: int = _knob(0, "torch CPU threads (0: torch's default)", minimum=0)
    quiet: bool = _knob(False, "no progress bars")


GROUPS: dict[str, type] = {
    "data": DataConfig, "model": ModelConfig, "optim": OptimConfig, "schedule": ScheduleConfig,
    "augment": AugmentConfig, "ema": EmaConfig, "distill": DistillConfig, "distributed": DistributedConfig,
    "misc": MiscConfig,
}


@dataclass
class TrainConfig:
    """A whole recipe, one attribute per group."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    distributed: DistributedConfig = field(default_factory=DistributedConfig)
    misc: MiscConfig = field(default_factory=MiscConfig)

    def to_dict(self) -> dict:
        """The recipe as nested plain data, group by group."""
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        """The recipe as YAML, in group and field order: what a run directory keeps as its recipe."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def set(self, key: str, value: object, origin: str = "override") -> None:
        """Set `group.field` to `value` after checking the key and the value's type."""
        group_name, _, name = key.partition(".")
        if group_name not in GROUPS or not name:
            raise ValueError(f"{origin}: unknown key {key!r}; keys are <group>.<field> with group one of "
                             f"{', '.join(GROUPS)}")
        group = getattr(self, group_name)
        fields = {f.name: f for f in dataclasses.fields(group)}
        if name not in fields:
            raise ValueError(f"{origin}: unknown key {key!r}; allowed keys in {group_name}: {', '.join(fields)}")
        hint = typing.get_type_hints(type(group))[name]
        setattr(group, name, _checked(key, value, hint, fields[name], origin))


def knobs() -> list[tuple[str, dataclasses.Field, type]]:
    """(key, field, type) for every knob, in group order."""
    out = []
    for group_name, cls in GROUPS.items():
        hints = typing.get_type_hints(cls)
        out.extend((f"{group_name}.{f.name}", f, hints[f.name]) for f in dataclasses.fields(cls))
    return out


def load_config(path: str | Path | None = None, overrides: list[tuple[str, object]] | None = None) -> TrainConfig:
    """Defaults, then the YAML recipe at `path`, then `overrides` ((key, value) pairs, values parsed)."""
    config = TrainConfig()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"recipe {path} not found")
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"recipe {path} is not valid YAML: {error}") from error
        if not isinstance(document, dict):
            raise ValueError(f"recipe {path}: expected a mapping of groups ({', '.join(GROUPS)}), "
                             f"got {type(document).__name__}")
        for group_name, values in document.items():
            if group_name not in GROUPS:
                raise ValueError(f"recipe {path}: unknown group {group_name!r}; allowed: {', '.join(GROUPS)}")
            if not isinstance(values, dict):
                raise ValueError(f"recipe {path}: group {group_name!r} must be a mapping of field: value")
            for name, value in values.items():
                key = f"{group_name}.{name}"
                config.set(RENAMED_KEYS.get(key, key), value, origin=f"recipe {path}")
    for key, value in overrides or []:
        config.set(key, value)
    return config


def parse_value(text: str) -> object:
    """A command-line value read as YAML, so `0.01`, `true`, `[1, 2]` and `{a: 1}` get their types."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _as_float(value: object) -> object:
    """`value` as a float when it is text Python reads as one: YAML 1.1 leaves `1e-3` and `5e-4` as strings."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _checked(key: str, value: object, hint, spec: dataclasses.Field, origin: str) -> object:
    choices = spec.metadata.get("choices")
    kind = typing.get_origin(hint) or hint
    if kind is float:
        value = _as_float(value)
    elif kind is list and typing.get_args(hint) == (float,) and isinstance(value, list):
        value = [_as_float(v) for v in value]
    if not _is_a(value, kind):
        expected = f"one of {', '.join(choices)}" if choices else kind.__name__
        raise ValueError(f"{origin}: {key} expects {expected}, got {value!r} ({type(value).__name__})")
    if choices and value not in choices:
        raise ValueError(f"{origin}: {key} is {value!r}; allowed values: {', '.join(choices)}")
    if kind is list:
        (item,) = typing.get_args(hint)
        length = spec.metadata.get("length")
        if (length and len(value) != length) or not all(_is_a(v, item) for v in value):
            size = f"{length} " if length else ""
            raise ValueError(f"{origin}: {key} expects a list of {size}{item.__name__} values, got {value!r}")
        values = [item(v) for v in value]
        for v in values:
            _check_range(key, v, spec, origin)
        return values
    if kind in (int, float):
        _check_range(key, value, spec, origin)
    return float(value) if kind is float else value


BOUNDS = {  # metadata key -> (passes, how the message says it)
    "minimum": (lambda value, bound: value >= bound, "at least"),
    "above": (lambda value, bound: value > bound, "more than"),
    "maximum": (lambda value, bound: value <= bound, "at most"),
    "below": (lambda value, bound: value < bound, "less than"),
}


def _check_range(key: str, value: float, spec: dataclasses.Field, origin: str) -> None:
    bounds = [(name, spec.metadata[name]) for name in BOUNDS if spec.metadata.get(name) is not None]
    if all(BOUNDS[name][0](value, bound) for name, bound in bounds):
        return
    allowed = " and ".join(f"{BOUNDS[name][1]} {bound}" for name, bound in bounds)
    raise ValueError(f"{origin}: {key} is {value!r}; allowed: {allowed}")


def _is_a(value: object, kind: type) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)
