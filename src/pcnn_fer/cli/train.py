"""`pcnn-fer train`: a YAML recipe plus flags; every recipe field is also a `--group.field` flag."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from pcnn_fer.engine.config import GROUPS, TrainConfig, knobs, load_config, parse_value
from pcnn_fer.validation import choices_of, type_name

# Short spellings of the knobs changed most often.
ALIASES = {
    "data.root": "--data-root", "data.dataset": "--dataset", "data.batch_size": "--batch-size",
    "data.workers": "--workers", "model.variant": "--variant", "model.pretrained": "--pretrained",
    "optim.lr": "--lr", "optim.skip_nonfinite": "--skip-nonfinite", "schedule.epochs": "--epochs",
    "misc.seed": "--seed", "misc.deterministic": "--deterministic", "misc.select": "--select",
    "misc.amp": "--amp", "misc.device": "--device", "misc.output": "--output", "misc.name": "--name",
    "misc.quiet": "--quiet", "misc.threads": "--threads", "data.skip_bad": "--skip-bad",
}


def add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """--config, --set KEY=VALUE and one flag per recipe field, in groups, all defaulting to the recipe."""
    parser.add_argument("--config", type=Path, help="YAML recipe (e.g. configs/rafdb.yaml); flags override it")
    parser.add_argument("--set", action="append", default=[], metavar="GROUP.FIELD=VALUE",
                        help="override any recipe field (repeatable)")
    defaults = TrainConfig()
    sections = {name: parser.add_argument_group(f"{name} options") for name in GROUPS}
    for key, field in knobs():
        group_name, name = key.split(".")
        flags = [f"--{key}"] + ([ALIASES[key]] if key in ALIASES else [])
        default = getattr(getattr(defaults, group_name), name)
        choices = choices_of(field.annotation)
        extra = {"nargs": "?", "const": "true"} if field.annotation is bool else {}
        metavar = "{" + ",".join(choices) + "}" if choices else type_name(field.annotation).upper()
        sections[group_name].add_argument(*flags, dest=key, default=argparse.SUPPRESS, metavar=metavar, **extra,
                                          help=f"{field.description or ''} (default: {default})")


def recipe_overrides(args: argparse.Namespace) -> list[tuple[str, object]]:
    """(key, value) pairs from --set and the per-field flags; text fields keep their text as given."""
    texts = {key for key, field in knobs() if field.annotation is str}  # kept as typed: "01" is a name
    pairs = []
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects GROUP.FIELD=VALUE, got {item!r}")
        pairs.append((key.strip(), text))
    known = {key for key, _ in knobs()}
    pairs += [(key, value) for key, value in vars(args).items() if key in known]
    return [(key, text if key in texts else parse_value(text)) for key, text in pairs]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train` command and its flags."""
    parser = subparsers.add_parser(
        "train", help="train a PCNN from a recipe (also under torchrun)",
        description="Train a PCNN. Recipes live in configs/; any field can be overridden, e.g. "
                    "`--lr 0.001 --optim.name adamw` or `--set schedule.epochs=40`. Under "
                    "`torchrun --nproc-per-node N` the same command trains with DistributedDataParallel.")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR",
                        help="continue the run in RUN_DIR from its last checkpoint, with the recipe it recorded")
    add_recipe_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Train from the recipe (or resume a run) and print the run directory, its headline and report."""
    from pcnn_fer.engine.checkpoint import RECIPE_FILE, REPORT_FILE
    from pcnn_fer.engine.interruption import TrainingInterrupted
    from pcnn_fer.engine.reporting import headline
    from pcnn_fer.engine.train import train

    recipe = args.config
    if args.resume is not None:
        recipe = args.resume / RECIPE_FILE
        if not recipe.is_file():
            raise FileNotFoundError(f"{recipe} not found: --resume expects a run directory made by pcnn-fer train")
    config = load_config(recipe, recipe_overrides(args))
    try:
        root = train(config, resume=args.resume)
    except TrainingInterrupted as stop:
        logging.getLogger(__name__).warning("%s", stop)
        return 130
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"run directory: {root}\n{headline(root)}\nreport: {root / REPORT_FILE}")
    return 0
