"""`pcnn-fer eval`: score a model (or every fold of a cross-validation run) on a dataset and its challenge subsets."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pcnn_fer.data.sample import SampleSet

if TYPE_CHECKING:
    from pcnn_fer.engine.config import TrainConfig
    from pcnn_fer.engine.distributed import DistContext

# name -> (reader in pcnn_fer.data.subsets, how many list files, extra arguments)
SUBSETS = {
    "occlusion-rafdb": ("occlusion_rafdb", 1, ()),
    "pose30-rafdb": ("pose_rafdb", 2, ("30",)),
    "pose45-rafdb": ("pose_rafdb", 2, ("45",)),
    "occlusion-ferplus": ("occlusion_ferplus", 1, ()),
    "pose30-ferplus": ("pose_ferplus", 1, ("30",)),
    "pose45-ferplus": ("pose_ferplus", 1, ("45",)),
    "occlusion-affectnet": ("affectnet_list", 1, ("occlusion", "occlusion")),
    "pose30-affectnet": ("affectnet_list", 1, ("pose", "30")),
    "pose45-affectnet": ("affectnet_list", 1, ("pose", "45")),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval", help="evaluate a model or a run directory on a dataset, its subsets, or another dataset",
        description="Accuracy, mean class accuracy, macro-F1, per-class precision/recall, confusion matrices and "
                    "the main head's calibration (ECE, NLL, reliability diagram). "
                    "--model is a model directory, a run directory (its selected model) or a cross-validation "
                    "run (each fold's model on that fold's test part, then mean ± std). Another dataset than "
                    "the training one is compared through canonical class names.")
    parser.add_argument("--model", required=True, type=Path, help="model directory or run directory")
    parser.add_argument("--dataset", required=True, help="dataset reader name (rafdb, ferplus, ..., folder)")
    parser.add_argument("--data-root", required=True, type=Path, help="dataset directory")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="reader option, e.g. mode=majority (repeatable); a cross-validation run on its own "
                             "dataset is read with the run's options")
    parser.add_argument("--split", default="test", help="official split to score: train, val, test or all "
                                                        "(default: test)")
    parser.add_argument("--subset", action="append", default=[], metavar="NAME=LIST[,LABELS]",
                        help=f"challenge subset, repeatable; NAME one of {', '.join(SUBSETS)}")
    parser.add_argument("--tta-flip", action="store_true", help="average with the horizontally flipped image")
    parser.add_argument("--calibrate-on", metavar="SPLIT",
                        help="fit the softmax temperature on this official split of the dataset (e.g. val) and "
                             "report the calibration error before and after on the scored split; without it, a "
                             "temperature kept in the model's metadata (training fits one on val) is used")
    parser.add_argument("--organ-weight", type=float, default=0.0, metavar="W",
                        help="also score logits + W * organ_logits, reported separately")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", choices=("none", "bf16", "fp16"), default="none")
    parser.add_argument("--skip-bad", action="store_true",
                        help="skip unreadable samples and report how many (a cross-validation run on its own "
                             "dataset follows the run's data.skip_bad)")
    parser.add_argument("--output", type=Path, help="where metrics and confusion matrices go "
                                                    "(default: MODEL/eval-DATASET-SPLIT)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pcnn_fer.cli.data import parse_options
    from pcnn_fer.devices import resolve_device
    from pcnn_fer.engine.distributed import DistContext
    from pcnn_fer.engine.evaluate import MAIN, EvalOptions, evaluate, fit_calibration, write_evaluation
    from pcnn_fer.engine.metrics import mean_std
    from pcnn_fer.engine.reporting import calibration_summary, format_table
    from pcnn_fer.models.optimize import optimize_for_inference
    from pcnn_fer.weights.store import load_model

    challenge = [_subset(spec) for spec in args.subset]  # bad specs fail before anything is loaded
    if args.calibrate_on and (args.calibrate_on == args.split or "all" in (args.split, args.calibrate_on)):
        raise ValueError(f"--calibrate-on {args.calibrate_on} would fit the temperature on the very samples it "
                         f"scores (--split {args.split}); name another split, e.g. val")
    options = parse_options(args.dataset, args.option)
    context = DistContext(device=resolve_device(args.device))
    eval_options = EvalOptions(batch_size=args.batch_size, workers=args.workers, flip=args.tta_flip,
                               organ_weight=args.organ_weight, amp=args.amp, channels_last=True,
                               show_progress=not args.quiet)
    output = args.output or args.model / f"eval-{args.dataset}-{args.split}"
    rows = []
    per_fold: dict[str, list[float]] = {}
    notes = []
    for fold, model_dir, fold_test, calibration_set in _models(args, options, context):
        # BatchNorm folded, channels-last: the same predictions up to float rounding, faster.
        model = optimize_for_inference(load_model(model_dir, device=context.device))
        calibration = model.metadata.get("calibration")
        if calibration_set is not None:
            calibration = fit_calibration(model, calibration_set, eval_options, args.calibrate_on, context)
        scoring = replace(eval_options, temperature=calibration["temperature"] if calibration else 1.0)
        sets = {args.split: fold_test}
        for name, subset in challenge:
            sets[name] = subset.apply(fold_test, skip_bad=args.skip_bad)
        for set_name, chosen in sets.items():
            results = evaluate(model, chosen, scoring, context, description=f"{fold} {set_name}".strip())
            stem = f"{fold}_{set_name}" if fold else set_name
            write_evaluation(results, output, stem, f"{args.dataset} {stem}")
            for head, metrics in results.items():
                rows.append({"fold": fold or "-", "set": set_name, "head": head, "count": metrics["count"],
                             "accuracy": metrics["accuracy"], "mean_class_acc": metrics["mean_class_accuracy"],
                             "macro_f1": metrics["macro_f1"], "ece": metrics.get("ece"),
                             "ece_calibrated": metrics.get("ece_calibrated")})
                per_fold.setdefault(f"{set_name} {head}", []).append(metrics["accuracy"])
            if calibration:
                notes.append(f"{stem} {MAIN}: {calibration_summary(results[MAIN], calibration)}")
    print(format_table(rows, ("fold", "set", "head", "count", "accuracy", "mean_class_acc", "macro_f1", "ece",
                              "ece_calibrated")))
    for note in notes:
        print(note)
    if len({r["fold"] for r in rows}) > 1:
        for name, values in per_fold.items():
            mean, std = mean_std(values)
            print(f"{name}: accuracy {mean:.4f} ± {std:.4f} over {len(values)} folds")
    print(f"metrics, confusion matrices and reliability diagrams: {output}")
    return 0


def _models(args: argparse.Namespace, options: dict[str, object],
            context: DistContext) -> Iterator[tuple[str, Path, SampleSet, SampleSet | None]]:
    """(fold name, model directory, samples to score, samples to fit the temperature on or None) for a model dir,
    a run dir or a cross-validation run."""
    from pcnn_fer.data.datasets import load_dataset
    from pcnn_fer.engine.checkpoint import SELECTED, model_of
    from pcnn_fer.engine.config import load_config
    from pcnn_fer.engine.train import readable_samples
    from pcnn_fer.weights.store import CONFIG_FILE

    path = args.model
    single: Path | None = model_of(path)
    if not (single / CONFIG_FILE).is_file():
        single = None
    fold_dirs = sorted(p for p in path.glob("fold_*") if (p / SELECTED / CONFIG_FILE).is_file())
    if single is None and not fold_dirs:
        raise FileNotFoundError(f"{path} is neither a model directory (config.json) nor a run directory "
                                f"(selected/ or fold_*/selected/)")
    if single is None:
        config = load_config(path / "config.yaml")
        if config.data.dataset == args.dataset:
            if args.calibrate_on:
                raise ValueError(f"--calibrate-on scores a dataset's official split; the folds of {path} are "
                                 f"rebuilt from its own dataset, and each fold's model already keeps the "
                                 f"temperature fitted on its validation part, which eval uses")
            # Each fold's model on that fold's own test part, the data split exactly as training split it.
            for fold, model_dir, fold_test in _fold_tests(path, fold_dirs, config, args, options, context):
                yield fold, model_dir, fold_test, None
            return
    samples = load_dataset(args.dataset, args.data_root, skip_bad=args.skip_bad, **options)
    # Unreadable images are found (and left out with --skip-bad) before any loader worker meets one.
    samples = readable_samples(samples, args.skip_bad, context, workers=args.workers, show_progress=not args.quiet)
    test = _split(samples, args.split)
    calibration_set = (_split(samples, args.calibrate_on, "--calibrate-on takes one of those")
                       if args.calibrate_on else None)
    if single is not None:
        yield "", single, test, calibration_set
        return
    for fold_dir in fold_dirs:  # another dataset: every fold's model on the same split of it
        yield fold_dir.name, fold_dir / "selected", test, calibration_set


def _fold_tests(run: Path, fold_dirs: list[Path], config: TrainConfig, args: argparse.Namespace,
                options: dict[str, object], context: DistContext) -> Iterator[tuple[str, Path, SampleSet]]:
    """The folds of a cross-validation run rebuilt from the recorded recipe, each checked against its record.

    Subjects are assigned to folds from the samples as read, so the dataset is read with the run's reader
    options and data.skip_bad, its unreadable images left out as training left them out, and every rebuilt
    test part must hold as many samples as the fold's result.json says training tested; otherwise a model
    would be scored on images it was trained on.
    """
    from pcnn_fer.data.datasets import load_dataset, reader_options
    from pcnn_fer.engine.checkpoint import RESULT_FILE
    from pcnn_fer.engine.train import plan_folds, readable_samples

    if not config.data.root:
        raise ValueError(f"{run} was trained on samples built in memory (as pcnn-fer quickstart trains on face "
                         f"crops), not on a dataset directory, so its folds cannot be rebuilt from "
                         f"{args.data_root}; each fold's test metrics are in {run}/fold_*/result.json, and a "
                         f"fold's model (e.g. {fold_dirs[0] / 'selected'}) can be scored on other data")
    recorded = {**reader_options(config.data.dataset), **config.data.options}
    if options and {**reader_options(args.dataset), **options} != recorded:
        given = " ".join(f"{k}={v}" for k, v in options.items())
        raise ValueError(f"--option {given} differs from the reader options the run was trained with "
                         f"(data.options {config.data.options or '{}'} in {run / 'config.yaml'}); its folds "
                         f"can only be rebuilt with those: leave --option out")
    samples = load_dataset(args.dataset, args.data_root, skip_bad=config.data.skip_bad, **config.data.options)
    samples = readable_samples(samples, config.data.skip_bad, context, workers=args.workers,
                               show_progress=not args.quiet)
    folds = {fold.name: fold for fold in plan_folds(config, samples)}
    checked = []
    for fold_dir in fold_dirs:
        result = fold_dir / RESULT_FILE
        if not result.is_file():
            raise ValueError(f"{result} not found: fold {fold_dir.name} did not finish training; finish it with "
                             f"pcnn-fer train --resume {run}")
        tested = json.loads(result.read_text()).get("test_samples")
        fold = folds.get(fold_dir.name)
        rebuilt = len(fold.test) if fold is not None and fold.test is not None else None
        if rebuilt != tested:
            raise ValueError(f"{fold_dir.name}: training tested {tested} sample(s) ({result}) but the fold rebuilt "
                             f"from {args.data_root} holds {rebuilt}; the dataset is not the one the run was "
                             f"trained on, so its folds cannot be scored without test images leaking into training")
        checked.append((fold_dir.name, fold_dir / "selected", fold.test))
    yield from checked


def _split(samples: SampleSet, split: str, hint: str = "use --split all") -> SampleSet:
    from pcnn_fer.data.protocols import official_split

    if split == "all":
        return samples
    parts = official_split(samples)
    if split not in parts:
        raise ValueError(f"{samples.name} has no {split!r} split (it has {', '.join(parts)}); {hint}")
    return parts[split]


def _subset(spec: str):
    from pcnn_fer.data import subsets

    name, sep, files = spec.partition("=")
    if not sep or name not in SUBSETS:
        raise ValueError(f"--subset expects NAME=LIST[,LABELS] with NAME one of {', '.join(SUBSETS)}; got {spec!r}")
    reader, count, extra = SUBSETS[name]
    paths = [Path(p) for p in files.split(",")]
    if len(paths) != count:
        raise ValueError(f"--subset {name} takes {count} file(s) separated by a comma, got {len(paths)}")
    return name, getattr(subsets, reader)(*paths, *extra)
