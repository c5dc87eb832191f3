"""`pcnn-fer models`: the shipped pretrained models, with their training data, protocol and accuracy."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list the shipped pretrained models",
                                   description="The models shipped inside pcnn-fer: what they were trained on, "
                                               "how they were measured, and what input they expect. The first "
                                               "is the default of `pcnn-fer predict` and Recognizer.from_pretrained().")
    parser.add_argument("name", nargs="?", help="show one model's whole metadata as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pcnn_fer.weights.pretrained import Pretrained

    if args.name:
        entry = Pretrained.get(args.name)
        print(json.dumps({"name": entry.name, "path": str(entry.path), "config": entry.config.to_dict(),
                          "metadata": entry.metadata}, indent=2))
        return 0
    for member in Pretrained:
        entry = member.value
        print(describe(entry.name, entry.config, entry.metadata, default=member is Pretrained.DEFAULT))
    return 0


def describe(name: str, config, metadata: dict, default: bool = False) -> str:
    """A few lines saying what a model is, what it was trained on, and how well it does."""
    data = metadata.get("training_data", {})
    framing = metadata.get("framing", {})
    colour = "grey" if framing.get("grey") else "RGB"
    lines = [f"{name}{' (default)' if default else ''}: {config.backbone} PCNN, {config.input_size} px {colour}, "
             f"classes {', '.join(config.class_names)}",
             f"  trained on {data.get('name', metadata.get('dataset', '?'))} ({data.get('protocol', '?')})"]
    for split, metrics in metadata.get("metrics", {}).items():
        lines.append(f"  {split}: accuracy {100 * metrics['accuracy']:.2f} %, mean class accuracy "
                     f"{100 * metrics['mean_class_accuracy']:.2f} %, macro-F1 {100 * metrics['macro_f1']:.2f} % "
                     f"({metrics.get('protocol', '')}, {metrics.get('count', '?')} faces)")
    calibration = metadata.get("calibration")
    if calibration:
        lines.append(f"  calibration temperature {calibration['temperature']:.3f} (fitted on "
                     f"{calibration.get('fitted_on', '?')})")
    if data.get("terms"):
        lines.append(f"  data terms: {data['terms']}")
    return "\n".join(lines)
