"""`pcnn-fer convert REF.pth OUT_DIR`: an authors' PCNN checkpoint into a pcnn-fer model directory."""

from __future__ import annotations

import argparse

from pcnn_fer.data.labels import NATIVE_CLASSES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `convert` command and its flags."""
    parser = subparsers.add_parser(
        "convert", help="convert an authors' PCNN checkpoint (rafdb.pth, ...) to a model directory",
        description="Read a reference PCNN checkpoint without running code from it, map its keys onto "
                    "pcnn_r18, and write config.json + model.safetensors. Prints which keys were ignored.")
    parser.add_argument("checkpoint", help="reference checkpoint (.pth) or bare state_dict")
    parser.add_argument("output", help="model directory to write")
    parser.add_argument("--classes", default=None,
                        help=f"class order of the checkpoint's outputs: a dataset name ({', '.join(NATIVE_CLASSES)}) "
                             f"or a comma-separated list; default: class_0, class_1, ...")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Convert the checkpoint, write the model directory and say which keys were left out."""
    from pcnn_fer.data.labels import class_order
    from pcnn_fer.weights.reference import import_reference_checkpoint

    classes = None if args.classes is None else class_order(args.classes, "--classes")
    model, report = import_reference_checkpoint(args.checkpoint, classes)
    directory = model.save_pretrained(args.output, metadata=report.metadata())
    print(report.summary())
    print(f"classes: {', '.join(model.class_names)}")
    print(f"wrote {directory}")
    return 0
