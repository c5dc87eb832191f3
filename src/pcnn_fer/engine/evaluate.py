"""Evaluate a model on a sample set: metrics of the main head, optionally of main + w * organ heads, with flip TTA.

Labels are compared through class names, so a model trained on one dataset can be scored on another
(cross-dataset evaluation): the samples' labels are rewritten in the model's class order.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pcnn_fer.atomic import write_text
from pcnn_fer.data.cache import DecodedCache
from pcnn_fer.data.labels import canonical_name, remap_labels
from pcnn_fer.data.preprocessing import Preprocessing
from pcnn_fer.data.sample import SampleSet
from pcnn_fer.data.torch_dataset import FERDataset
from pcnn_fer.data.transforms import eval_transform
from pcnn_fer.engine.calibration import (
    DEFAULT_BINS,
    expected_calibration_error,
    fit_prior_weight,
    fit_temperature,
    reliability_bins,
)
from pcnn_fer.engine.config import AMP_MODES
from pcnn_fer.engine.distributed import DistContext, ShardedSampler
from pcnn_fer.engine.loaders import make_loader
from pcnn_fer.engine.metrics import confusion_matrix, summarize
from pcnn_fer.engine.reporting import plot_confusion, plot_reliability
from pcnn_fer.models.loss import class_prior
from pcnn_fer.models.pcnn import PCNN
from pcnn_fer.models.tta import flip_tta
from pcnn_fer.progress import progress

MAIN = "main"


@dataclass(frozen=True)
class EvalOptions:
    """How to run the model on evaluation data."""

    batch_size: int = 64
    workers: int = 0
    flip_tta: bool = False
    organ_weight: float = 0.0
    amp: str = "none"
    channels_last: bool = False
    show_progress: bool = True
    temperature: float = 1.0  # divides the main head's logits for the calibrated figures
    prior_weight: float | None = None  # the prior correction's weight (models.metadata); None: the model's own

    @property
    def heads(self) -> list[str]:
        """The scored predictions: the main head, and main + w * organ heads when a weight is given."""
        return [MAIN] + ([organ_head_name(self.organ_weight)] if self.organ_weight else [])


def organ_head_name(weight: float) -> str:
    """The name results give the head logits + weight * organ_logits."""
    return f"main+{weight:g}*organs"


def autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager:
    """Mixed precision as configured (one of AMP_MODES); fp16 is CUDA-only."""
    if amp not in AMP_MODES:
        raise ValueError(f"amp {amp!r}: expected one of {', '.join(AMP_MODES)}")
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
                         f"{list(model_classes)}: {error}") from error
    return remap_labels(labels, source, target)


def evaluation_model(model: nn.Module) -> PCNN:
    """The PCNN inside DDP / EMA / compile wrappers."""
    for attribute in ("module", "_orig_mod"):
        while hasattr(model, attribute):
            model = getattr(model, attribute)
    return model


class ScoredBatch(NamedTuple):
    """One evaluated batch: the logits of each scored head (float32, CPU) and where its samples come from."""

    scores: dict[str, torch.Tensor]
    targets: torch.Tensor  # hard labels in the model's class order
    indices: torch.Tensor  # positions of the batch's samples in the sample set
    loss: float | None  # the criterion's mean over the batch, when one is given


@torch.no_grad()
def scored_batches(model: nn.Module, samples: SampleSet, options: EvalOptions, context: DistContext | None = None,
                   criterion: nn.Module | None = None, description: str = "eval",
                   cache: DecodedCache | None = None) -> Iterator[ScoredBatch]:
    """This process's share of `samples` run through `model` in eval mode: the one loop every evaluation uses.

    The eval transform comes from the model's config; flip TTA averages with the mirrored image (models.tta).
    """
    context = context or DistContext()
    config = evaluation_model(model).config
    targets = torch.from_numpy(targets_in_model_order(samples, config.class_names))
    dataset = FERDataset(samples, eval_transform(Preprocessing.of(config)), cache)
    sampler = ShardedSampler(len(samples), context, shuffle=False, pad=False)
    loader = make_loader(dataset, sampler, options.batch_size, options.workers, context.device)
    order = torch.tensor(list(iter(sampler)), dtype=torch.int64)
    was_training = model.training
    offset = evaluation_model(model).metadata.logit_offset(options.prior_weight)
    offset = None if offset is None else torch.tensor(offset, device=context.device)
    model.eval()
    seen = 0
    try:
        for images, soft_or_hard in progress(loader, len(loader), description,
                                             options.show_progress and context.is_main, unit="batch"):
            indices = order[seen:seen + len(images)]
            seen += len(images)
            images = images.to(context.device, non_blocking=True)
            if options.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            loss = None
            with autocast(context.device, options.amp):
                output = flip_tta(model, images) if options.flip_tta else model(images)
                if criterion is not None:
                    loss = float(criterion(output, soft_or_hard.to(context.device)))
            logits = output.logits if offset is None else output.logits + offset
            scores = {MAIN: logits}
            if options.organ_weight:
                if output.organ_logits is None:
                    raise ValueError("misc.organ_weight needs a model with organ heads; this one has none")
                scores[organ_head_name(options.organ_weight)] = logits + options.organ_weight * output.organ_logits
            yield ScoredBatch({head: logits.float().cpu() for head, logits in scores.items()}, targets[indices],
                              indices, loss)
    finally:
        model.train(was_training)


def evaluate(model: nn.Module, samples: SampleSet, options: EvalOptions, context: DistContext | None = None,
             criterion: nn.Module | None = None, description: str = "eval",
             cache: DecodedCache | None = None) -> dict[str, dict]:
    """Metrics per scored head ({"main": {...}, "main+w*organs": {...}}), summed over every process.

    `criterion` adds "loss" (mean over samples) to the main head's metrics, for learning curves. The main
    head also gets its calibration: "ece", "nll" and the "reliability" bins at T = 1, and with
    options.temperature != 1 the same figures at that temperature ("ece_calibrated", ...).
    """
    context = context or DistContext()
    config = evaluation_model(model).config
    num_classes = config.num_classes
    confusions = {head: torch.zeros(num_classes, num_classes, dtype=torch.int64) for head in options.heads}
    temperatures = [1.0] + ([options.temperature] if options.temperature != 1.0 else [])
    reliability = torch.zeros(len(temperatures), DEFAULT_BINS, 3, dtype=torch.float64)
    nll_sums = torch.zeros(len(temperatures), dtype=torch.float64)
    loss_sum = torch.zeros((), dtype=torch.float64)
    for batch in scored_batches(model, samples, options, context, criterion, description, cache):
        for head, logits in batch.scores.items():
            confusions[head] += torch.from_numpy(
                confusion_matrix(batch.targets.numpy(), logits.argmax(dim=1).numpy(), num_classes))
        for i, temperature in enumerate(temperatures):
            scaled = batch.scores[MAIN].double() / temperature
            reliability[i] += reliability_bins(scaled, batch.targets)
            nll_sums[i] += F.cross_entropy(scaled, batch.targets, reduction="sum")
        if batch.loss is not None:
            loss_sum += batch.loss * len(batch.targets)
    results = {}
    for head, confusion in confusions.items():
        results[head] = summarize(context.sum(confusion).numpy(), config.class_names)
    count = max(results[MAIN]["count"], 1)
    reliability, nll_sums = context.sum(reliability), context.sum(nll_sums)
    for i, suffix in enumerate(["", "_calibrated"][:len(temperatures)]):
        results[MAIN].update({f"ece{suffix}": expected_calibration_error(reliability[i]),
                              f"nll{suffix}": float(nll_sums[i]) / count,
                              f"reliability{suffix}": reliability[i].tolist()})
    if len(temperatures) > 1:
        results[MAIN]["temperature"] = options.temperature
    if criterion is not None:
        results[MAIN]["loss"] = float(context.sum(loss_sum) / count)
    return results


def collect_logits(model: nn.Module, samples: SampleSet, options: EvalOptions, context: DistContext | None = None,
                   cache: DecodedCache | None = None, description: str = "logits") -> tuple[torch.Tensor, torch.Tensor]:
    """The main head's logits (N, C) and hard targets (N,) of every sample, in sample order, on every process.

    Each process fills in the rows of its share and the sum over processes completes the table.
    """
    context = context or DistContext()
    logits = torch.zeros(len(samples), evaluation_model(model).config.num_classes)
    targets = torch.zeros(len(samples), dtype=torch.int64)
    for batch in scored_batches(model, samples, options, context, description=description, cache=cache):
        logits[batch.indices] = batch.scores[MAIN]
        targets[batch.indices] = batch.targets
    return context.sum(logits), context.sum(targets)


def held_out_logits(model: nn.Module, samples: SampleSet, options: EvalOptions, split: str,
                    context: DistContext | None = None,
                    cache: DecodedCache | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The main head's logits before any prior correction, and the hard targets, on held-out `samples` (the `split`
    part): what a temperature and a correction weight are fitted on, so that one pass serves both.

    The data path is `options`' (flip TTA included), so both fit the logits they will rescale and shift."""
    return collect_logits(model, samples, replace(options, prior_weight=0.0), context, cache,
                          description=f"scoring {split} for calibration")


def fit_calibration(logits: torch.Tensor, targets: torch.Tensor, split: str,
                    context: DistContext | None = None) -> dict:
    """A temperature for the held-out logits of the `split` part (`held_out_logits`), with the NLL before and after.
    The dict is what a model's metadata keeps under "calibration"."""
    context = context or DistContext()
    temperature = context.broadcast(fit_temperature(logits, targets))  # one value, whatever the float rounding
    logits = logits.double()
    return {"temperature": temperature, "fitted_on": split,
            f"{split}_nll": float(F.cross_entropy(logits, targets)),
            f"{split}_nll_calibrated": float(F.cross_entropy(logits / temperature, targets))}


def training_prior(train: SampleSet, class_names: tuple[str, ...]) -> torch.Tensor:
    """The class prior of the training labels `train`, in the model's class order `class_names`; a ValueError when
    a class has no training faces (there is no prior to correct from)."""
    return class_prior(torch.from_numpy(targets_in_model_order(train, class_names)), len(class_names))


def fit_prior_correction(logits: torch.Tensor, targets: torch.Tensor, prior: torch.Tensor, temperature: float,
                         split: str, context: DistContext | None = None, apply: bool = True) -> dict:
    """The prior correction at `temperature` for the held-out logits of the `split` part (`held_out_logits`): the
    training `prior` and the weight fitted there, with the accuracy and mean class accuracy at every weight tried.
    The dict is what a model's metadata keeps under "prior_correction".

    Without `apply` the fitted weight is only recorded ("fitted_weight") and the weight is 0: the model keeps its
    own predictions, and users may opt in (`--prior-correction W`)."""
    context = context or DistContext()
    weight, trials = fit_prior_weight(logits, targets, temperature, prior)
    weight = context.broadcast(weight)
    applied = {"weight": weight} if apply else {"weight": 0.0, "fitted_weight": weight}
    return {**applied, "prior": [round(float(share), 6) for share in prior], "fitted_on": split,
            "criterion": "accuracy + mean class accuracy", f"{split}_trials": trials}


def write_evaluation(results: dict[str, dict], directory: str | Path, name: str,
                     title: str) -> dict[str, dict[str, str]]:
    """Each head's metrics as `<name>[_head].json` with its confusion matrix as a PNG, and the main head's
    reliability diagram; returns the PNG paths as {"confusion": {head: path}, "reliability": {head: path}}."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    images: dict[str, dict[str, str]] = {"confusion": {}, "reliability": {}}
    for head, metrics in results.items():
        stem = name if head == MAIN else f"{name}_{head.replace('*', 'x').replace('+', '_plus_')}"
        write_text(directory / f"{stem}.json", json.dumps(metrics, indent=2) + "\n")
        heading = title if head == MAIN else f"{title} ({head})"
        images["confusion"][head] = str(plot_confusion(np.array(metrics["confusion"]), metrics["class_names"],
                                                       directory / f"{stem}_confusion.png",
                                                       f"{heading}: acc {metrics['accuracy']:.3f}"))
        if "reliability" in metrics:
            curves = {"T = 1": metrics["reliability"]}
            if "reliability_calibrated" in metrics:
                curves[f"T = {metrics['temperature']:.3g}"] = metrics["reliability_calibrated"]
            images["reliability"][head] = str(plot_reliability(curves, directory / f"{stem}_reliability.png",
                                                               f"{heading}: reliability"))
    return images
