"""`pcnn-fer models`: the shipped pretrained models, with their training data, protocol and accuracy."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `models` command and its flags."""
    parser = subparsers.add_parser("models", help="list the shipped pretrained models",
                                   description="The models shipped inside pcnn-fer: what they were trained on, "
                                               "how they were measured, and what input they expect. The first "
                                               "is the default of `pcnn-fer predict` and Recognizer.from_pretrained().")
    parser.add_argument("name", nargs="?", help="show one model's whole metadata as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """List the shipped models, or print one's whole config and metadata as JSON."""
    from pcnn_fer.models.pretrained import Pretrained

    if args.name:
        entry = Pretrained.find(args.name)
        if entry is None:
            raise ValueError(f"no shipped model named {args.name!r}; shipped: {', '.join(Pretrained.names())}")
        print(json.dumps({"name": entry.name, "path": str(entry.path), "config": entry.config.to_dict(),
                          "metadata": entry.metadata.to_dict()}, indent=2))
        return 0
    for member in Pretrained:
        print(member.value.card(default=member is Pretrained.DEFAULT))
    return 0

