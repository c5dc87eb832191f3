"""The training recipe: grouped records (pcnn_fer.validation), read from YAML, overridden from the command line,
checked strictly.

Every field is a knob: `--<group>.<field> VALUE` on the command line, `group: {field: value}` in a recipe.
A misspelt key or a value of the wrong type is an error naming the key and what it accepts, because a typo
silently ignored costs a 100-epoch run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError
from pydantic.fields import FieldInfo

from pcnn_fer.data.datasets import DATASET_NAMES
from pcnn_fer.data.names import AUGMENTATIONS
from pcnn_fer.models.inputs import IMAGENET_MEAN, IMAGENET_STD, MIN_INPUT_SIZE
from pcnn_fer.models.registry import list_variants
from pcnn_fer.validation import Checked, Float, one_line

AMP_MODES = ("none", "bf16", "fp16")  # automatic mixed precision: off, bfloat16 (CPU and GPU), float16 (CUDA)
DEFAULT_VARIANT = "pcnn_r18"
# Recipe keys renamed since run folders were written: old key -> key now, so that older recipes still load.
RENAMED_KEYS = {"augment.tta_flip": "augment.flip_tta", "data.classes": "data.class_count"}


VARIANTS = (DEFAULT_VARIANT, *(v for v in list_variants() if v != DEFAULT_VARIANT))
PROTOCOLS = ("official", "subject_kfold", "leave_one_subject_out", "random_kfold")
OPTIMIZERS = ("sgd", "adamw")
CLASS_WEIGHTINGS = ("none", "sqrt_inverse", "inverse")
SCHEDULES = ("step", "cosine", "constant")
BACKENDS = ("auto", "nccl", "gloo")
SELECTIONS = ("val", "last", "test")
SELECT_METRICS = ("accuracy", "mean_class_accuracy", "macro_f1")
Unit = Annotated[Float, Field(ge=0.0, le=1.0)]  # a number in [0, 1]
Fold = Annotated[int, Field(ge=1)]


def _knob(default, help: str = "", length: int | None = None, minimum: float | None = None,
          maximum: float | None = None, above: float | None = None, below: float | None = None):
    """A recipe field: its default, what it does, and the bounds of a number (`minimum`/`maximum` inclusive,
    `above`/`below` exclusive) or the length of a list. The field's type names its choices (a Literal)."""
    return Field(default, description=help, ge=minimum, le=maximum, gt=above, lt=below,
                 min_length=length, max_length=length)


class MixedSource(Checked):
    """Another dataset trained with the main one: its split joins the main dataset's train / val / test parts."""

    dataset: Literal[DATASET_NAMES] = _knob(DATASET_NAMES[0], "dataset reader")
    root: str = _knob("", "dataset directory, as its publisher ships it")
    options: dict[str, Any] = _knob({}, "reader options, e.g. {val_subjects: 0.1, test_subjects: 0.2} for ckplus48")
    share: Unit = _knob(0.0, "its share of every epoch's draws (0: its share by count)")


class DataConfig(Checked):
    """Which dataset, how it is split into folds, and how batches are read."""

    dataset: Literal[DATASET_NAMES] = _knob(DATASET_NAMES[0], "dataset reader")
    root: str = _knob("", "dataset directory, as its publisher ships it")
    options: dict[str, Any] = _knob({}, "reader options, e.g. {mode: majority} for FERPlus")
    class_count: int = _knob(0, "how many classes the recipe expects (0: whatever the dataset has)", minimum=0)
    protocol: Literal[PROTOCOLS] = _knob("official", "how train and test are split")
    folds: int = _knob(10, "number of folds for the k-fold protocols", minimum=2)
    run_folds: list[Fold] = _knob([], "1-based folds to run (empty: all)")
    val_fraction: Float = _knob(0.1, "hold-out carved from train for --select val when no val split exists",
                                above=0.0, below=1.0)
    val_by_subject: bool = _knob(False, "carve the hold-out by subject")
    batch_size: int = _knob(128, "global batch size (all processes together)", minimum=1)
    eval_batch_size: int = _knob(0, "batch size for evaluation (0: the training batch size)", minimum=0)
    workers: int = _knob(4, "data-loading worker processes per training process", minimum=0)
    cache: str = _knob("", "directory of a decoded-image cache at the input size (empty: decode every epoch)")
    balanced: bool = _knob(False, "class-balanced sampling (inside each source when sources are mixed)")
    mix: list[MixedSource] = _knob([], "other datasets trained with this one, relabelled into its classes")
    skip_bad: bool = _knob(False, "skip unreadable or malformed samples (and report how many)")


class ModelConfig(Checked):
    """Which PCNN variant, at what input size, starting from which weights."""

    variant: Literal[VARIANTS] = _knob(DEFAULT_VARIANT, "registered PCNN variant")
    pretrained: str = _knob("imagenet", "imagenet | none | a torchvision state_dict file | a pcnn-fer model or run "
                                        "directory or shipped name (another class set: all but the class heads)")
    input_size: int = _knob(224, "square input size in pixels", minimum=MIN_INPUT_SIZE)
    organs: bool = _knob(True, "organ branches (off: the global branch alone, which also turns fusion and stn off)")
    fusion: bool = _knob(True, "fuse the stitched organ map into the global one (off: organ heads only, no stn)")
    stn: bool = _knob(True, "spatial transformer on the stitched organ map")
    freeze_bn: bool = _knob(False, "keep BatchNorm statistics fixed (for tiny per-process batches)")


class OptimConfig(Checked):
    """Optimiser, gradient handling and the two-phase loss weights."""

    name: Literal[OPTIMIZERS] = _knob("sgd", "optimiser")
    lr: Float = _knob(0.01, "learning rate at the global batch size", above=0.0)
    momentum: Float = _knob(0.9, "SGD momentum", minimum=0.0, maximum=1.0)
    nesterov: bool = _knob(False, "Nesterov momentum")
    betas: list[Unit] = _knob([0.9, 0.999], "AdamW betas", length=2)
    weight_decay: Float = _knob(1e-4, "weight decay", minimum=0.0)
    clip_grad: Float = _knob(0.0, "clip the gradient norm to this value (0: off)", minimum=0.0)
    accumulate: int = _knob(1, "gradient accumulation steps per optimiser step", minimum=1)
    loss_alpha: Float = _knob(12.0, "weight of the fused head's cross-entropy", minimum=0.0)
    loss_beta: Float = _knob(8.0, "weight of the organ heads' cross-entropy", minimum=0.0)
    label_smoothing: Float = _knob(0.0, "label smoothing", minimum=0.0, below=1.0)
    logit_adjust: Float = _knob(0.0, "add tau * log(class prior) to the logits inside the loss (logit adjustment; "
                                     "1: balanced softmax; 0: off)", minimum=0.0)
    class_weighting: Literal[CLASS_WEIGHTINGS] = _knob("none", "re-weight each class's loss term by its inverse "
                                                               "(square-root) frequency")
    skip_nonfinite: bool = _knob(False, "skip steps whose loss is NaN/inf instead of stopping")


class ScheduleConfig(Checked):
    """Epochs and the per-epoch learning-rate schedule with its warm-up."""

    name: Literal[SCHEDULES] = _knob("step", "learning-rate schedule (per epoch)")
    epochs: int = _knob(100, "training epochs", minimum=1)
    step_size: int = _knob(15, "StepLR period in epochs", minimum=1)
    gamma: Float = _knob(0.5, "StepLR factor", above=0.0)
    warmup_epochs: int = _knob(0, "linear warm-up epochs (stepped per iteration)", minimum=0)
    warmup_factor: Float = _knob(0.1, "learning-rate factor at the start of warm-up", minimum=0.0, maximum=1.0)
    min_lr: Float = _knob(0.0, "cosine floor", minimum=0.0)


class AugmentConfig(Checked):
    """Training augmentation, input normalisation and test-time flipping."""

    train: Literal[AUGMENTATIONS] = _knob(AUGMENTATIONS[0], "training augmentation (reference: the paper's; light: "
                                                            "short schedules on small faces; wild: faces as they "
                                                            "come in use, batched on the training device)")
    working_size: int = _knob(0, "batched policies (wild): the size the loader hands faces over at (0: the input "
                                 "size; FER2013's 48 px faces: 48)", minimum=0)
    mean: list[Float] = _knob(list(IMAGENET_MEAN), "normalisation mean (RGB)", length=3)
    std: list[Float] = _knob(list(IMAGENET_STD), "normalisation std (RGB)", length=3)
    flip_tta: bool = _knob(False, "average predictions with the horizontally flipped image at evaluation")
    mixup: Float = _knob(0.0, "blend each training batch with itself shuffled, the weight drawn from Beta(mixup, "
                              "mixup) (0: off; 0.2 is usual)", minimum=0.0)


class EmaConfig(Checked):
    """Exponential moving average of the weights, evaluated and kept in place of the raw weights."""

    enabled: bool = _knob(False, "keep an exponential moving average of the weights and evaluate it")
    decay: Float = _knob(0.999, "EMA decay per optimiser step", minimum=0.0, maximum=1.0)


class DistillConfig(Checked):
    """Learning from a larger model: its predictions on the training faces, computed once, blended into the targets."""

    teacher: str = _knob("", "the teacher: a model directory, training run or shipped name (empty: off)")
    weight: Float = _knob(0.5, "share of the teacher's distribution in each training target", minimum=0.0,
                          maximum=1.0)
    temperature: Float = _knob(2.0, "softens the teacher's logits before they become a distribution", above=0.0)
    sources: list[Literal[DATASET_NAMES]] = _knob(
        [], "datasets whose training faces the teacher teaches (empty: every face); e.g. [ferplus] keeps a FERPlus "
        "teacher from teaching on mixed-in faces it never learnt")


class DistributedConfig(Checked):
    """Process-group settings under torchrun."""

    backend: Literal[BACKENDS] = _knob("auto", "process-group backend under torchrun")
    sync_bn: bool = _knob(False, "SyncBatchNorm across processes (CUDA only)")


class MiscConfig(Checked):
    """Seeding, device and precision, model selection, output location and verbosity."""

    seed: int = _knob(0, "seeds Python, NumPy, torch and data-loader workers", minimum=0)
    deterministic: bool = _knob(False, "deterministic algorithms (slower; needed for bit-exact resume)")
    device: str = _knob("auto", "auto | cpu | cuda | cuda:N")
    amp: Literal[AMP_MODES] = _knob(AMP_MODES[0], "automatic mixed precision")
    channels_last: bool = _knob(False, "channels-last memory format (faster steps on CPUs, and on GPUs with AMP)")
    compile: bool = _knob(False, "torch.compile the model")
    select: Literal[SELECTIONS] = _knob("val", "which epoch's weights are kept as the result")
    select_metric: Literal[SELECT_METRICS] = _knob("accuracy", "metric for --select")
    organ_weight: Float = _knob(0.0, "also report logits + w * organ_logits at evaluation (0: off)", minimum=0.0)
    output: str = _knob("runs", "parent directory of run directories")
    name: str = _knob("", "run directory name (default: dataset-variant-time)")
    threads: int = _knob(0, "torch CPU threads (0: torch's default)", minimum=0)
    quiet: bool = _knob(False, "no progress bars")


GROUPS: dict[str, type] = {
    "data": DataConfig, "model": ModelConfig, "optim": OptimConfig, "schedule": ScheduleConfig,
    "augment": AugmentConfig, "ema": EmaConfig, "distill": DistillConfig, "distributed": DistributedConfig,
    "misc": MiscConfig,
}


class TrainConfig(Checked):
    """A whole recipe, one attribute per group."""

    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    ema: EmaConfig = Field(default_factory=EmaConfig)
    distill: DistillConfig = Field(default_factory=DistillConfig)
    distributed: DistributedConfig = Field(default_factory=DistributedConfig)
    misc: MiscConfig = Field(default_factory=MiscConfig)

    def to_dict(self) -> dict:
        """The recipe as nested plain data, group by group."""
        return self.model_dump()

    def to_yaml(self) -> str:
        """The recipe as YAML, in group and field order: what a run directory keeps as its recipe."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def set(self, key: str, value: object, origin: str = "override") -> None:
        """Set `group.field` to `value` after checking the key and the value."""
        group_name, _, name = key.partition(".")
        if group_name not in GROUPS or not name:
            raise ValueError(f"{origin}: unknown key {key!r}; keys are <group>.<field> with group one of "
                             f"{', '.join(GROUPS)}")
        group = getattr(self, group_name)
        if name not in type(group).model_fields:
            raise ValueError(f"{origin}: unknown key {key!r}; allowed keys in {group_name}: "
                             f"{', '.join(type(group).model_fields)}")
        try:
            setattr(group, name, value)
        except ValidationError as error:
            raise ValueError(one_line(error, type(group), origin, prefix=f"{group_name}.")) from error


def knobs() -> list[tuple[str, FieldInfo]]:
    """(key, field) for every knob, in group order: its `description` says what it does, its `annotation` what
    it takes."""
    return [(f"{group_name}.{name}", info) for group_name, cls in GROUPS.items()
            for name, info in cls.model_fields.items()]


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
