"""Evaluate a model on a sample set: metrics of the main head, optionally of main + w * organ heads, with flip TTA.

Labels are compared through class names, so a model trained on one dataset can be scored on another
(cross-dataset evaluation): the samples' labels are rewritten in the model's class order.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pcnn_fer.data.cache import DecodedCache
from pcnn_fer.data.labels import canonical_name, remap_labels
from pcnn_fer.data.sample import SampleSet
from pcnn_fer.data.torch_dataset import FERDataset
from pcnn_fer.data.transforms import eval_transform
from pcnn_fer.engine.distributed import DistContext, ShardedSampler
from pcnn_fer.engine.loaders import make_loader
from pcnn_fer.engine.metrics import confusion_matrix, summarize
from pcnn_fer.engine.reporting import plot_confusion
from pcnn_fer.models.pcnn import PCNN
from pcnn_fer.progress import progress

MAIN = "main"


@dataclass(frozen=True)
class EvalOptions:
    """How to run the model on evaluation data."""

    batch_size: int = 64
    workers: int = 0
    flip: bool = False
    organ_weight: float = 0.0
    amp: str = "none"
    channels_last: bool = False
    show_progress: bool = True

    @property
    def heads(self) -> list[str]:
        """The scored predictions: the main head, and main + w * organ heads when a weight is given."""
        return [MAIN] + ([organ_head_name(self.organ_weight)] if self.organ_weight else [])


def organ_head_name(weight: float) -> str:
    return f"main+{weight:g}*organs"


def autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager:
    """Mixed precision as configured ("none", "bf16", "fp16"); fp16 is CUDA-only."""
    if amp == "none":
        return contextlib.nullcontext()
    if amp == "fp16" and device.type != "cuda":
        raise ValueError("misc.amp fp16 needs CUDA; use bf16 (or none) on the CPU")
    return torch.autocast(device.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


def targets_in_model_order(samples: SampleSet, model_classes: tuple[str, ...]) -> np.ndarray:
    """Hard labels of `samples` as indices into `model_classes`, matched by canonical class name."""
    labels = np.array([s.hard_label for s in samples], dtype=np.int64)
    if tuple(samples.class_names) == tuple(model_classes):
        return labels
    try:
        source = [canonical_name(c) for c in samples.class_names]
        target = [canonical_name(c) for c in model_classes]
    except ValueError as error:
        raise ValueError(f"cannot compare {samples.name}'s classes {list(samples.class_names)} with the model's "
                         f"{list(model_classes)}: {error}") from None
    return remap_labels(labels, source, target)


def evaluation_model(model: nn.Module) -> PCNN:
    """The PCNN inside DDP / EMA / compile wrappers."""
    for attribute in ("module", "_orig_mod"):
        while hasattr(model, attribute):
            model = getattr(model, attribute)
    return model


@torch.no_grad()
def evaluate(model: nn.Module, samples: SampleSet, options: EvalOptions, context: DistContext | None = None,
             criterion: nn.Module | None = None, description: str = "eval",
             cache: DecodedCache | None = None) -> dict[str, dict]:
    """Metrics per scored head ({"main": {...}, "main+w*organs": {...}}), summed over every process.

    `criterion` adds "loss" (mean over samples) to the main head's metrics, for learning curves.
    """
    context = context or DistContext()
    network = evaluation_model(model)
    config = network.config
    targets = torch.from_numpy(targets_in_model_order(samples, config.class_names))
    dataset = FERDataset(samples, eval_transform(config.input_size, config.mean, config.std), cache)
    sampler = ShardedSampler(len(samples), context, shuffle=False, pad=False)
    loader = make_loader(dataset, sampler, options.batch_size, options.workers, context.device)
    order = list(iter(sampler))
    was_training = model.training
    model.eval()
    num_classes = config.num_classes
    confusions = {head: torch.zeros(num_classes, num_classes, dtype=torch.int64) for head in options.heads}
    loss_sum = torch.zeros((), dtype=torch.float64)
    seen = 0
    bar = progress(loader, len(loader), description, options.show_progress and context.is_main)
    for images, soft_or_hard in bar:
        batch_targets = targets[order[seen:seen + len(images)]]
        seen += len(images)
        images = images.to(context.device, non_blocking=True)
        if options.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with autocast(context.device, options.amp):
            output = model(images)
            if options.flip:
                flipped = model(images.flip(-1))
                output = type(output)(*(_mean_or_keep(a, b) for a, b in zip(output, flipped)))
            if criterion is not None:
                loss_sum += float(criterion(output, soft_or_hard.to(context.device))) * len(images)
        scores = {MAIN: output.logits}
        if options.organ_weight:
            if output.organ_logits is None:
                raise ValueError("misc.organ_weight needs a model with organ heads; this one has none")
            scores[organ_head_name(options.organ_weight)] = output.logits + options.organ_weight * output.organ_logits
        for head, logits in scores.items():
            predicted = logits.float().argmax(dim=1).cpu()
            confusions[head] += torch.from_numpy(
                confusion_matrix(batch_targets.numpy(), predicted.numpy(), num_classes))
    model.train(was_training)
    results = {}
    for head, confusion in confusions.items():
        results[head] = summarize(context.sum(confusion).numpy(), config.class_names)
    if criterion is not None:
        results[MAIN]["loss"] = float(context.sum(loss_sum) / max(results[MAIN]["count"], 1))
    return results


def _mean_or_keep(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    return None if a is None else (a + b) / 2


def write_evaluation(results: dict[str, dict], directory: str | Path, name: str, title: str) -> dict[str, str]:
    """Each head's metrics as `<name>[_head].json` and its confusion matrix as a PNG; returns the PNG paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    images = {}
    for head, metrics in results.items():
        stem = name if head == MAIN else f"{name}_{head.replace('*', 'x').replace('+', '_plus_')}"
        (directory / f"{stem}.json").write_text(json.dumps(metrics, indent=2) + "\n")
        heading = title if head == MAIN else f"{title} ({head})"
        images[head] = str(plot_confusion(np.array(metrics["confusion"]), metrics["class_names"],
                                          directory / f"{stem}_confusion.png",
                                          f"{heading}: acc {metrics['accuracy']:.3f}"))
    return images
