"""Training: a recipe in, a run directory out (one fold or several), on one process or under torchrun.

This module runs the whole recipe: data read and checked once, folds planned, each fold trained by a FoldTrainer
(fold_trainer.py), finished folds kept on resume, and a cross-validation summarised over its folds.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch

from pcnn_fer.data.cache import DecodedCache
from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.mixing import mix_sources
from pcnn_fer.data.sample import SampleSet
from pcnn_fer.engine.checkpoint import RECIPE_FILE, RESULT_FILE, SKIPPED_FILE, SUMMARY_FILE, RunDir
from pcnn_fer.engine.config import TrainConfig
from pcnn_fer.engine.distributed import DistContext, init_distributed, shutdown
from pcnn_fer.engine.fold_result import FoldResult
from pcnn_fer.engine.fold_trainer import FoldTrainer
from pcnn_fer.engine.folds import Fold, check_classes, plan_folds, warn_small_validation
from pcnn_fer.engine.interruption import StopRequest, TrainingInterrupted
from pcnn_fer.engine.metrics import mean_std
from pcnn_fer.engine.model_setup import PretrainedWeights, seed_everything
from pcnn_fer.engine.preflight import decoded_cache, readable_samples
from pcnn_fer.engine.reporting import format_table, write_cv_report

log = logging.getLogger(__name__)


def read_samples(config: TrainConfig) -> SampleSet:
    """The recipe's dataset, with the datasets of data.mix relabelled into its classes."""
    data = config.data
    extras = []
    for source in data.mix:
        if not source.root:
            raise ValueError(f"data.mix: no directory for {source.dataset} (set its root)")
        extras.append(load_dataset(source.dataset, source.root, skip_bad=data.skip_bad, **source.options))
    return mix_sources(load_dataset(data.dataset, data.root, skip_bad=data.skip_bad, **data.options), extras)


def train(config: TrainConfig, samples: SampleSet | None = None, resume: str | Path | None = None) -> Path:
    """Run the recipe (every fold of it) and return the run directory.

    `samples` replaces reading data.dataset from data.root (e.g. data built in memory). `resume` continues
    the run in that directory: finished folds are kept, the current one restarts from its last checkpoint.
    """
    misc = config.misc
    threads = torch.get_num_threads()
    if misc.threads:
        torch.set_num_threads(misc.threads)
    context = init_distributed(config.distributed.backend, misc.device)
    try:
        seed_everything(misc.seed + context.rank, misc.deterministic)
        if samples is None:
            if not config.data.root:
                raise ValueError(f"no dataset directory: pass --data-root DIR (the {config.data.dataset} files as "
                                 f"their publisher ships them) or set data.root in the recipe")
            samples = read_samples(config)
        check_classes(config, samples)
        cache = decoded_cache(config, samples, context)
        samples = readable_samples(samples, config.data.skip_bad, context, cache=cache, workers=config.data.workers,
                                   show_progress=not misc.quiet)
        folds = plan_folds(config, samples)
        if context.is_main:
            warn_small_validation(config, folds)
        pretrained = PretrainedWeights(config.model.pretrained, context)
        root = Path(resume) if resume else Path(misc.output) / context.broadcast(
            misc.name or f"{samples.name}-{config.model.variant}-{time.strftime('%Y%m%d-%H%M%S')}")
        # Decided by the main process alone: it creates the folder, which the others would then find.
        made_here = resume is None and not root.exists()
        taken = (not resume and root.exists() and any(root.iterdir())) if context.is_main else None
        if context.broadcast(taken):
            state = "a finished run" if (root / RESULT_FILE).exists() else "a run"
            raise ValueError(f"{root} already holds {state}; choose another misc.name, --resume it, or remove it")
        run = RunDir(root)
        try:
            return _train_folds(config, folds, run, context, cache, pretrained, samples.skipped, resume is not None)
        except (TrainingInterrupted, KeyboardInterrupt):
            raise
        except Exception as error:
            if context.is_main:
                run.abandon(error, made_here)
            raise
    finally:
        shutdown(context)
        torch.set_num_threads(threads)


def _train_folds(config: TrainConfig, folds: list[Fold], run: RunDir, context: DistContext,
                 cache: DecodedCache | None, pretrained: PretrainedWeights, skipped: list[str],
                 resumed: bool) -> Path:
    """Write the run's recipe and train every fold not finished yet, then summarise a cross-validation."""
    root = run.path
    if context.is_main:
        run.create()
        run.write_text(RECIPE_FILE, config.to_yaml())
        run.write_environment()
        if skipped:
            run.write_text(SKIPPED_FILE, "".join(f"{reason}\n" for reason in skipped))
    context.barrier()
    results = []
    with StopRequest() as stop:
        for fold in folds:
            fold_run = RunDir(root / fold.name) if fold.name else run
            if (fold_run.path / RESULT_FILE).is_file():
                results.append(FoldResult.read(fold_run.path / RESULT_FILE))
                continue
            if context.is_main:
                fold_run.create()
            context.barrier()
            try:
                results.append(FoldTrainer(config, fold, fold_run, context, cache, pretrained).fit(stop))
            except TrainingInterrupted as interrupted:
                raise TrainingInterrupted(f"{interrupted}; resume with --resume {root}") from interrupted
    if folds[0].name and context.is_main:  # cross-validation, even when data.run_folds runs one fold
        summary = summarize_folds(results)
        run.write_json(SUMMARY_FILE, summary)
        write_cv_report(run, config, results, summary)
        log.info("%s", format_cv_summary(results, summary))
    if context.is_main and resumed:
        run.clear_failure()
    return root


def summarize_folds(results: list[FoldResult]) -> dict:
    """Mean ± std over folds of each test metric of each scored head, and the confusion summed over folds."""
    scored = [r.test for r in results if r.test is not None]
    if not scored:
        return {"folds": len(results)}
    summary: dict = {"folds": len(results), "heads": {}}
    for head in scored[0]:
        summary["heads"][head] = {
            metric: dict(zip(("mean", "std"), mean_std([test[head][metric] for test in scored])))
            for metric in ("accuracy", "mean_class_accuracy", "macro_f1")}
        summary["heads"][head]["confusion"] = np.sum(
            [np.array(test[head]["confusion"]) for test in scored], axis=0).tolist()
        summary["heads"][head]["class_names"] = scored[0][head]["class_names"]
    return summary


def format_cv_summary(results: list[FoldResult], summary: dict) -> str:
    """Accuracy per fold and mean ± std, as printed at the end of a cross-validation run."""
    rows = [{"fold": r.fold, "test_samples": r.test_samples, "selected_epoch": r.selected_epoch,
             "accuracy": r.test["main"]["accuracy"] if r.test else None} for r in results]
    lines = [format_table(rows, ("fold", "test_samples", "selected_epoch", "accuracy"))]
    for head, stats in summary.get("heads", {}).items():
        lines.append(f"{head}: accuracy {stats['accuracy']['mean']:.4f} ± {stats['accuracy']['std']:.4f}  "
                     f"mean class accuracy {stats['mean_class_accuracy']['mean']:.4f} ± "
                     f"{stats['mean_class_accuracy']['std']:.4f}  macro-F1 {stats['macro_f1']['mean']:.4f} ± "
                     f"{stats['macro_f1']['std']:.4f} over {summary['folds']} folds")
    return "\n".join(lines)
