"""`pcnn-fer eval`: score a model (or every fold of a cross-validation run) on a dataset and its challenge subsets."""

from __future__ import annotations

import argparse
from pathlib import Path

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
        description="Accuracy, mean class accuracy, macro-F1, per-class precision/recall and confusion matrices. "
                    "--model is a model directory, a run directory (its selected model) or a cross-validation "
                    "run (each fold's model on that fold's test part, then mean ± std). Another dataset than "
                    "the training one is compared through canonical class names.")
    parser.add_argument("--model", required=True, type=Path, help="model directory or run directory")
    parser.add_argument("--dataset", required=True, help="dataset reader name (rafdb, ferplus, ..., folder)")
    parser.add_argument("--data-root", required=True, type=Path, help="dataset directory")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="reader option, e.g. mode=majority (repeatable)")
    parser.add_argument("--split", default="test", help="official split to score: train, val, test or all "
                                                        "(default: test)")
    parser.add_argument("--subset", action="append", default=[], metavar="NAME=LIST[,LABELS]",
                        help=f"challenge subset, repeatable; NAME one of {', '.join(SUBSETS)}")
    parser.add_argument("--tta-flip", action="store_true", help="average with the horizontally flipped image")
    parser.add_argument("--organ-weight", type=float, default=0.0, metavar="W",
                        help="also score logits + W * organ_logits, reported separately")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", choices=("none", "bf16", "fp16"), default="none")
    parser.add_argument("--skip-bad", action="store_true", help="skip unreadable samples and report how many")
    parser.add_argument("--output", type=Path, help="where metrics and confusion matrices go "
                                                    "(default: MODEL/eval-DATASET-SPLIT)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pcnn_fer.data.datasets import load_dataset
    from pcnn_fer.engine.config import parse_value
    from pcnn_fer.engine.distributed import DistContext, resolve_device
    from pcnn_fer.engine.evaluate import EvalOptions, evaluate, write_evaluation
    from pcnn_fer.engine.metrics import mean_std
    from pcnn_fer.engine.reporting import format_table
    from pcnn_fer.models.optimize import optimize_for_inference
    from pcnn_fer.weights.store import load_model

    challenge = [_subset(spec) for spec in args.subset]  # bad specs fail before anything is loaded
    options = {}
    for item in args.option:
        key, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"--option expects KEY=VALUE, got {item!r}")
        options[key] = parse_value(text)
    samples = load_dataset(args.dataset, args.data_root, skip_bad=args.skip_bad, **options)
    context = DistContext(device=resolve_device(args.device))
    eval_options = EvalOptions(batch_size=args.batch_size, workers=args.workers, flip=args.tta_flip,
                               organ_weight=args.organ_weight, amp=args.amp, channels_last=True,
                               show_progress=not args.quiet)
    output = args.output or args.model / f"eval-{args.dataset}-{args.split}"
    rows = []
    per_fold: dict[str, list[float]] = {}
    for fold, model_dir, fold_test in _models(args.model, samples, args.split):
        # BatchNorm folded, channels-last: the same predictions up to float rounding, faster.
        model = optimize_for_inference(load_model(model_dir, device=context.device))
        sets = {args.split: fold_test}
        for name, subset in challenge:
            sets[name] = subset.apply(fold_test, skip_bad=args.skip_bad)
        for set_name, chosen in sets.items():
            results = evaluate(model, chosen, eval_options, context, description=f"{fold} {set_name}".strip())
            stem = f"{fold}_{set_name}" if fold else set_name
            write_evaluation(results, output, stem, f"{args.dataset} {stem}")
            for head, metrics in results.items():
                rows.append({"fold": fold or "-", "set": set_name, "head": head, "count": metrics["count"],
                             "accuracy": metrics["accuracy"], "mean_class_acc": metrics["mean_class_accuracy"],
                             "macro_f1": metrics["macro_f1"]})
                per_fold.setdefault(f"{set_name} {head}", []).append(metrics["accuracy"])
    print(format_table(rows, ("fold", "set", "head", "count", "accuracy", "mean_class_acc", "macro_f1")))
    if len({r["fold"] for r in rows}) > 1:
        for name, values in per_fold.items():
            mean, std = mean_std(values)
            print(f"{name}: accuracy {mean:.4f} ± {std:.4f} over {len(values)} folds")
    print(f"metrics and confusion matrices: {output}")
    return 0


def _models(path: Path, samples, split: str):
    """(fold name, model directory, samples to score) for a model dir, a run dir or a cross-validation run."""
    from pcnn_fer.data.protocols import official_split
    from pcnn_fer.engine.config import load_config
    from pcnn_fer.engine.train import plan_folds

    if (path / "config.json").is_file():
        yield "", path, _split(samples, split, official_split)
        return
    if (path / "selected" / "config.json").is_file():
        yield "", path / "selected", _split(samples, split, official_split)
        return
    fold_dirs = sorted(p for p in path.glob("fold_*") if (p / "selected" / "config.json").is_file())
    if not fold_dirs:
        raise FileNotFoundError(f"{path} is neither a model directory (config.json) nor a run directory "
                                f"(selected/ or fold_*/selected/)")
    config = load_config(path / "config.yaml")
    same_data = config.data.dataset == samples.name
    folds = {f.name: f for f in plan_folds(config, samples)} if same_data else {}
    for fold_dir in fold_dirs:
        if same_data:
            yield fold_dir.name, fold_dir / "selected", folds[fold_dir.name].test
        else:
            yield fold_dir.name, fold_dir / "selected", _split(samples, split, official_split)


def _split(samples, split: str, official_split):
    if split == "all":
        return samples
    parts = official_split(samples)
    if split not in parts:
        raise ValueError(f"{samples.name} has no {split!r} split (it has {', '.join(parts)}); use --split all")
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
