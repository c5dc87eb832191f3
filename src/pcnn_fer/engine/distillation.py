"""Distillation targets: a teacher's predictions on the training faces, computed once and blended into the labels.

The teacher runs once over the training part (its own input convention, no augmentation); its logits are kept in
the run directory, so a resumed run reuses them. Each training target becomes
(1 - weight) * label + weight * softmax(teacher logits / temperature), a distribution that the two-phase loss
already reads: the student learns from the votes and from the teacher at once. In a mixed set the teacher may teach
on some sources only: a model being fine-tuned onto a new source can be its own teacher on the old one, so that it
keeps what it knew there while it learns the new faces from their labels.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from pcnn_fer.data.mixing import source_of
from pcnn_fer.data.sample import SampleSet
from pcnn_fer.engine.config import DistillConfig
from pcnn_fer.engine.distributed import DistContext
from pcnn_fer.engine.evaluate import EvalOptions, collect_logits
from pcnn_fer.models.storage import load_model

log = logging.getLogger(__name__)
TEACHER_LOGITS_FILE = "teacher_logits.npz"


def teacher_logits(config: DistillConfig, samples: SampleSet, options: EvalOptions, context: DistContext,
                   store: Path) -> np.ndarray:
    """The teacher's logits (N, C) over `samples`, in their order: read from `store` when it holds them for these
    samples and this teacher, else computed and written there."""
    keys = np.array([s.key for s in samples.samples])
    if store.is_file():
        saved = np.load(store, allow_pickle=False)
        if str(saved["teacher"]) == config.teacher and np.array_equal(saved["keys"], keys):
            return saved["logits"]
    teacher = load_model(config.teacher, device=context.device)
    taught = list(teacher.config.class_names)
    if sorted(taught) != sorted(samples.class_names):
        raise ValueError(f"distill.teacher {config.teacher} predicts {', '.join(taught)}; the training data has "
                         f"{', '.join(samples.class_names)}")
    log.info("teacher %s: logits over %d training faces", config.teacher, len(samples))
    logits, _ = collect_logits(teacher, samples, replace(options, prior_weight=0.0), context, description="teacher")
    logits = logits.numpy()[:, [taught.index(name) for name in samples.class_names]]  # the data's class order
    if context.is_main:
        store.parent.mkdir(parents=True, exist_ok=True)
        np.savez(store, logits=logits, keys=keys, teacher=np.array(config.teacher))
    return logits


def distilled(samples: SampleSet, logits: np.ndarray, weight: float, temperature: float,
              sources: Collection[str] = (), main: str = "") -> SampleSet:
    """`samples` whose labels are blended with the teacher's softened distribution; with `sources`, only those of
    the datasets named there (`main`: the dataset that the unmixed samples belong to); the others keep their label, as
a distribution like every other target."""
    present = sorted({source_of(sample, main) for sample in samples})
    absent = sorted(set(sources) - set(present))
    if absent:
        raise ValueError(f"distill.sources names {', '.join(absent)}, which is not among the training faces' "
                         f"datasets ({', '.join(present)})")
    teacher = torch.softmax(torch.from_numpy(logits).double() / temperature, dim=1).numpy()
    classes = len(samples.class_names)
    blended = []
    for sample, taught in zip(samples.samples, teacher):
        share = weight if not sources or source_of(sample, main) in sources else 0.0  # untaught: its own label
        label = np.eye(classes)[sample.label] if isinstance(sample.label, int) else np.asarray(sample.label)
        blended.append(replace(sample, label=tuple(((1 - share) * label + share * taught).tolist())))
    return samples.subset(blended)
