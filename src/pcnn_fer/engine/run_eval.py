"""Scoring a model directory, a run directory (its selected model) or every fold of a cross-validation run on a
dataset's split and its challenge subsets: what `pcnn-fer eval` does, as one library call.

A cross-validation run scored on its own dataset has its folds rebuilt from the recorded recipe, and each rebuilt
test part is checked against the fold's record (FoldResult): its model is scored on the very samples training
tested, never on images it was trained on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from pcnn_fer.data.datasets import load_dataset, reader_options
from pcnn_fer.data.protocols import NoOfficialSplitError, official_split
from pcnn_fer.data.sample import SampleSet
from pcnn_fer.data.subsets import ChallengeSubset
from pcnn_fer.engine.checkpoint import RECIPE_FILE, RESULT_FILE, RunDir
from pcnn_fer.engine.config import TrainConfig, load_config
from pcnn_fer.engine.distributed import DistContext
from pcnn_fer.engine.evaluate import (
    MAIN,
    EvalOptions,
    evaluate,
    fit_calibration,
    held_out_logits,
    write_evaluation,
)
from pcnn_fer.engine.fold_result import FoldResult, samples_fingerprint
from pcnn_fer.engine.folds import plan_folds
from pcnn_fer.engine.metrics import mean_std
from pcnn_fer.engine.preflight import readable_samples
from pcnn_fer.engine.reporting import calibration_summary
from pcnn_fer.models.layout import FOLD_PREFIX, SELECTED
from pcnn_fer.models.optimize import optimize_for_inference
from pcnn_fer.models.pretrained import Pretrained
from pcnn_fer.models.resolve import resolve_model
from pcnn_fer.models.storage import load_model

ROW_COLUMNS = ("fold", "set", "head", "count", "accuracy", "mean_class_acc", "macro_f1", "ece", "ece_calibrated")


@dataclass(frozen=True)
class EvalRequest:
    """What to score, on which data: the arguments of `pcnn-fer eval` as plain fields."""

    model: str | Path  # a shipped name, a model directory, a run directory or a cross-validation run
    dataset: str  # dataset reader name
    data_root: Path
    reader_options: Mapping[str, object] = field(default_factory=dict)
    split: str = "test"  # the official split scored: train, val, test or all
    subsets: tuple[tuple[str, ChallengeSubset], ...] = ()  # (name, subset) pairs, e.g. from read_subset
    calibrate_on: str | None = None  # an official split to fit the temperature on; None: the model's own
    skip_bad: bool = False  # leave unreadable samples out (and report them) instead of failing
    output: Path | None = None  # where metrics and figures go; None: MODEL/eval-DATASET-SPLIT

    @property
    def output_dir(self) -> Path:
        """Where metrics, confusion matrices and reliability diagrams are written."""
        if self.output is not None:
            return self.output
        shipped = Pretrained.find(str(self.model))  # never write into the installed package
        folder = Path.cwd() / f"eval-{shipped.name}" if shipped else Path(self.model)
        return folder / f"eval-{self.dataset}-{self.split}"


@dataclass(frozen=True)
class RunEvaluation:
    """What an evaluation found: a row per fold, set and head (ROW_COLUMNS), calibration notes, the output folder."""

    rows: list[dict]
    notes: list[str]
    output: Path

    def across_folds(self) -> dict[str, tuple[float, float, int]]:
        """"set head" -> (mean, std, fold count) of the accuracy, when several folds were scored; else empty."""
        if len({row["fold"] for row in self.rows}) < 2:
            return {}
        accuracies: dict[str, list[float]] = {}
        for row in self.rows:
            accuracies.setdefault(f"{row['set']} {row['head']}", []).append(row["accuracy"])
        return {name: (*mean_std(values), len(values)) for name, values in accuracies.items()}


def evaluate_run(request: EvalRequest, options: EvalOptions, context: DistContext | None = None) -> RunEvaluation:
    """Score each model `request.model` holds on the requested split and subsets, writing each one's metrics."""
    context = context or DistContext()
    split, calibrate_on = request.split, request.calibrate_on
    if calibrate_on and (calibrate_on == split or "all" in (split, calibrate_on)):
        raise ValueError(f"--calibrate-on {calibrate_on} would fit the temperature on the very samples it "
                         f"scores (--split {split}); name another split, e.g. val")
    output = request.output_dir
    rows: list[dict] = []
    notes: list[str] = []
    for fold, model_dir, fold_test, calibration_set in _models(request, options, context):
        # BatchNorm folded, channels-last: the same predictions up to float rounding, faster.
        model = optimize_for_inference(load_model(model_dir, device=context.device))
        calibration = model.metadata.calibration.to_dict() if model.metadata.calibration else None
        if calibration_set is not None:
            logits, targets = held_out_logits(model, calibration_set, options, calibrate_on, context)
            calibration = fit_calibration(logits, targets, calibrate_on, context)
        scoring = replace(options, temperature=calibration["temperature"] if calibration else 1.0)
        sets = {split: fold_test}
        for name, subset in request.subsets:
            sets[name] = subset.apply(fold_test, skip_bad=request.skip_bad)
        for set_name, chosen in sets.items():
            results = evaluate(model, chosen, scoring, context, description=f"{fold} {set_name}".strip())
            stem = f"{fold}_{set_name}" if fold else set_name
            write_evaluation(results, output, stem, f"{request.dataset} {stem}")
            rows += [{"fold": fold or "-", "set": set_name, "head": head, "count": metrics["count"],
                      "accuracy": metrics["accuracy"], "mean_class_acc": metrics["mean_class_accuracy"],
                      "macro_f1": metrics["macro_f1"], "ece": metrics.get("ece"),
                      "ece_calibrated": metrics.get("ece_calibrated")} for head, metrics in results.items()]
            if calibration:
                notes.append(f"{stem} {MAIN}: {calibration_summary(results[MAIN], calibration)}")
    return RunEvaluation(rows, notes, output)


def _models(request: EvalRequest, options: EvalOptions,
            context: DistContext) -> Iterator[tuple[str, Path, SampleSet, SampleSet | None]]:
    """(fold name, model directory, samples to score, samples to fit the temperature on or None) for a model dir,
    a run dir or a cross-validation run."""
    run = RunDir(request.model)
    folds = run.fold_runs()
    single: Path | None = None if folds else resolve_model(request.model)
    if single is None:
        config = load_config(run.path / RECIPE_FILE)
        if config.data.dataset == request.dataset:
            if request.calibrate_on:
                raise ValueError(f"--calibrate-on scores a dataset's official split; the folds of {run.path} are "
                                 f"rebuilt from its own dataset, and each fold's model already keeps the "
                                 f"temperature fitted on its validation part, which eval uses")
            # Each fold's model on that fold's own test part, the data split exactly as training split it.
            for fold, model_dir, fold_test in _fold_tests(run, folds, config, request, options, context):
                yield fold, model_dir, fold_test, None
            return
    samples = load_dataset(request.dataset, request.data_root, skip_bad=request.skip_bad, **request.reader_options)
    # Unreadable images are found (and left out with --skip-bad) before any loader worker meets one.
    samples = readable_samples(samples, request.skip_bad, context, workers=options.workers,
                               show_progress=options.show_progress)
    test = _split(samples, request.split)
    calibration_set = (_split(samples, request.calibrate_on, "--calibrate-on takes one of those")
                       if request.calibrate_on else None)
    if single is not None:
        yield "", single, test, calibration_set
        return
    for fold in folds:  # another dataset: every fold's model on the same split of it
        yield fold.path.name, fold.checkpoint_path(SELECTED), test, calibration_set


def _fold_tests(run: RunDir, folds: list[RunDir], config: TrainConfig, request: EvalRequest, options: EvalOptions,
                context: DistContext) -> Iterator[tuple[str, Path, SampleSet]]:
    """The folds of a cross-validation run rebuilt from the recorded recipe, each checked against its record.

    Subjects are assigned to folds from the samples as read, so the dataset is read with the run's reader
    options and data.skip_bad, its unreadable images left out as training left them out, and every rebuilt
    test part must hold the samples the fold's result.json says training tested (by count, and by fingerprint
    where the record has one); otherwise a model would be scored on images it was trained on.
    """
    if not config.data.root:
        raise ValueError(f"{run.path} was trained on samples built in memory (as pcnn-fer quickstart trains on face "
                         f"crops), not on a dataset directory, so its folds cannot be rebuilt from "
                         f"{request.data_root}; each fold's test metrics are in "
                         f"{run.path}/{FOLD_PREFIX}*/{RESULT_FILE}, and a fold's model (e.g. "
                         f"{folds[0].checkpoint_path(SELECTED)}) can be scored on other data")
    recorded = {**reader_options(config.data.dataset), **config.data.options}
    if request.reader_options and {**reader_options(request.dataset), **request.reader_options} != recorded:
        given = " ".join(f"{k}={v}" for k, v in request.reader_options.items())
        raise ValueError(f"--option {given} differs from the reader options the run was trained with "
                         f"(data.options {config.data.options or '{}'} in {run.path / RECIPE_FILE}); its folds "
                         f"can only be rebuilt with those: leave --option out")
    samples = load_dataset(request.dataset, request.data_root, skip_bad=config.data.skip_bad, **config.data.options)
    samples = readable_samples(samples, config.data.skip_bad, context, workers=options.workers,
                               show_progress=options.show_progress)
    planned = {fold.name: fold for fold in plan_folds(config, samples)}
    checked = []
    for fold_run in folds:
        name, record = fold_run.path.name, fold_run.path / RESULT_FILE
        if not record.is_file():
            raise ValueError(f"{record} not found: fold {name} did not finish training; finish it with "
                             f"pcnn-fer train --resume {run.path}")
        result = FoldResult.read(record)
        fold = planned.get(name)
        rebuilt = fold.test if fold is not None else None
        count = len(rebuilt) if rebuilt is not None else None
        if count != result.test_samples:
            raise ValueError(f"{name}: training tested {result.test_samples} sample(s) ({record}) but the fold "
                             f"rebuilt from {request.data_root} holds {count}; the dataset is not the one the run "
                             f"was trained on, so its folds cannot be scored without test images leaking into "
                             f"training")
        if result.test_fingerprint is not None and samples_fingerprint(rebuilt) != result.test_fingerprint:
            raise ValueError(f"{name}: the fold rebuilt from {request.data_root} holds as many test samples as "
                             f"training tested ({count}) but not the same ones (their fingerprint differs from "
                             f"test_fingerprint in {record}); the dataset is not the one the run was trained on, so "
                             f"its folds cannot be scored without test images leaking into training")
        checked.append((name, fold_run.checkpoint_path(SELECTED), rebuilt))
    yield from checked


def _split(samples: SampleSet, split: str, hint: str = "use --split all") -> SampleSet:
    """The official `split` of `samples` ("all": every sample), or an error naming the splits there are."""
    if split == "all":
        return samples
    try:
        parts = official_split(samples)
    except NoOfficialSplitError as cause:
        # The reader's advice names training protocols; what eval offers is the hint.
        raise ValueError(f"{samples.name} has no official split (its samples carry none), so no {split!r} part; "
                         f"{hint}") from cause
    if split not in parts:
        raise ValueError(f"{samples.name} has no {split!r} split (it has {', '.join(parts)}); {hint}")
    return parts[split]
