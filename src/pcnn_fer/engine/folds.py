"""Folds: the recipe's protocol applied to a sample set, with a validation part wherever selection needs one.

Training plans the folds once; `pcnn-fer eval` plans them again from the recorded recipe to score each fold's
model on the very test part it was tested on, so planning depends on the recipe and the samples alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pcnn_fer.data import protocols
from pcnn_fer.data.sample import SampleSet
from pcnn_fer.engine.checkpoint import fold_name
from pcnn_fer.engine.config import TrainConfig

log = logging.getLogger(__name__)
MIN_VAL_PER_CLASS = 10  # fewer validation images per class than this and selection follows noise


@dataclass
class Fold:
    """One train / val / test assignment; `name` is "" for a single split."""

    name: str
    train: SampleSet
    val: SampleSet | None
    test: SampleSet | None


def plan_folds(config: TrainConfig, samples: SampleSet) -> list[Fold]:
    """The recipe's protocol applied to `samples`, with a validation part wherever selection needs one."""
    data, seed = config.data, config.misc.seed
    if data.protocol == "official":
        parts = protocols.official_split(samples)
        if "train" not in parts:
            raise ValueError(f"{samples.name}: the official split has no training part (found {sorted(parts)})")
        folds = [Fold("", parts["train"], parts.get("val"), parts.get("test"))]
    else:
        if data.protocol == "subject_kfold":
            pairs = protocols.subject_kfold(samples, data.folds, seed)
        elif data.protocol == "leave_one_subject_out":
            pairs = protocols.leave_one_subject_out(samples)
        else:
            pairs = protocols.random_kfold(samples, data.folds, seed)
        folds = [Fold(fold_name(i), train, None, test) for i, (train, test) in enumerate(pairs, start=1)]
        if data.run_folds:
            bad = [f for f in data.run_folds if not 1 <= f <= len(folds)]
            if bad:
                raise ValueError(f"data.run_folds {bad} out of range: this protocol has folds 1..{len(folds)}")
            folds = [folds[f - 1] for f in sorted(set(data.run_folds))]
    for fold in folds:
        if config.misc.select == "val" and fold.val is None:
            fold.train, fold.val = protocols.holdout(fold.train, data.val_fraction, seed, stratified=True,
                                                     by_subject=data.val_by_subject)
        if config.misc.select == "test" and fold.test is None:
            raise ValueError(f"misc.select test needs a test split, and {samples.name} {fold.name} has none")
    return folds


def warn_small_validation(config: TrainConfig, folds: list[Fold]) -> None:
    """Say so when the validation part is too small for its accuracy to tell epochs apart."""
    if config.misc.select != "val":
        return
    for fold in folds:
        count, classes = len(fold.val), len(fold.val.class_names)
        if count < MIN_VAL_PER_CLASS * classes:
            log.warning("%s: the validation part holds only %d image(s) for %d classes (one image moves its "
                        "accuracy by %.1f points), too few to select an epoch on; raise data.val_fraction, or "
                        "select the last epoch (--select last)", fold.name or "training", count, classes,
                        100.0 / max(count, 1))


def check_classes(config: TrainConfig, samples: SampleSet) -> None:
    """Refuse a dataset whose class count differs from the recipe's before any training starts."""
    expected = config.data.class_count
    if expected and len(samples.class_names) != expected:
        raise ValueError(f"dataset {samples.name} at {config.data.root or '<memory>'} has "
                         f"{len(samples.class_names)} classes {list(samples.class_names)} but the recipe expects "
                         f"data.class_count={expected}; pick the matching reader options or set data.class_count")
