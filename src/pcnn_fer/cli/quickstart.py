"""`pcnn-fer quickstart [DIR]`: the whole pipeline on real faces in a few minutes on a laptop CPU.

Fetches the CK+ sample (from the EmoPy package), crops the faces, trains the MobileNetV2 PCNN from ImageNet
weights with subject-independent cross-validation, evaluates each fold and writes the report. It shows
that everything works end to end; with a few dozen images it measures nothing about accuracy.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pcnn_fer.data.sample import SampleSet

DEMONSTRATION_NOTE = ("This is a demonstration of the pipeline on {count} real faces from the CK+ sample, "
                      "not an accuracy benchmark: folds hold a handful of images each.")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "quickstart", help="fetch the CK+ sample, train and evaluate with cross-validation on the CPU, write a report",
        description=__doc__)
    parser.add_argument("directory", nargs="?", type=Path, default=Path("pcnn-fer-quickstart"),
                        help="where the data, the run and the report go (default: ./pcnn-fer-quickstart)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per fold (default: 10)")
    parser.add_argument("--folds", type=int, default=5, help="subject-independent folds (default: 5)")
    parser.add_argument("--input-size", type=int, default=128, help="face crop size in pixels (default: 128)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help=f"CPU threads (default: every core, {os.cpu_count() or 1} here; fewer when other "
                             f"programs share the cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pcnn_fer.data.datasets import load_dataset
    from pcnn_fer.data.fetch import fetch_ckplus_sample
    from pcnn_fer.data.labels import relabel
    from pcnn_fer.engine.checkpoint import SELECTED
    from pcnn_fer.engine.config import load_config
    from pcnn_fer.engine.reporting import headline
    from pcnn_fer.engine.train import TrainingInterrupted, train

    started = time.perf_counter()
    directory = args.directory.expanduser()
    print("\n".join(fetch_ckplus_sample(directory / "ckplus-sample").lines()))
    # Every onset frame as neutral: 10 subjects instead of 5, so folds can be subject-independent.
    samples = crop_faces(load_dataset("ckplus", directory / "ckplus-sample", neutral="all"), args.input_size)
    # Only the classes that occur, so the model and its confusion matrices have no empty rows.
    samples = relabel(samples, [name for name, count in samples.class_counts().items() if count], drop_missing=True)
    print(f"{len(samples)} face crops of {len({s.subject for s in samples})} subjects: "
          + ", ".join(f"{name} {n}" for name, n in samples.class_counts().items()))
    config = load_config(None, [
        ("data.dataset", "ckplus"), ("data.protocol", "subject_kfold"), ("data.folds", args.folds),
        ("data.batch_size", 16), ("data.workers", 0), ("data.balanced", True), ("model.variant", "pcnn_mbv2"),
        ("model.pretrained", "imagenet"), ("model.input_size", args.input_size),
        ("optim.lr", 0.001), ("schedule.epochs", args.epochs), ("schedule.step_size", max(args.epochs // 2, 1)),
        # Too few images to carve a validation split per fold: train a fixed schedule and keep the last epoch.
        ("misc.select", "last"), ("misc.seed", args.seed), ("misc.threads", args.threads),
        ("misc.output", str(directory)), ("misc.name", f"run-{time.strftime('%Y%m%d-%H%M%S')}"),
        ("misc.quiet", args.quiet),
    ])
    try:
        root = train(config, samples=samples)
    except TrainingInterrupted:
        print("quickstart interrupted; run it again to start over")
        return 130
    note = DEMONSTRATION_NOTE.format(count=len(samples))
    report = root / "report.md"
    title, _, rest = report.read_text().partition("\n")
    report.write_text(f"{title}\n\n> {note}\n{rest}")
    print(note)
    print(headline(root))
    first = sorted(root.glob("fold_*"))[0]
    print(f"fold models: {root}/fold_*/{SELECTED}/ (config.json + model.safetensors)\n"
          f"next: pcnn-fer predict PHOTO --model {first}   (recognise faces with fold 1's model)\n"
          f"      pcnn-fer train --config configs/ferplus_cpu.yaml --data-root DATA   (train on a real benchmark)")
    print(f"quickstart finished in {time.perf_counter() - started:.0f} s; report: {report}")
    return 0


def crop_faces(samples: SampleSet, size: int) -> SampleSet:
    """Each image replaced by its aligned face crop (OpenCV's Haar detector; the whole frame when none is found)."""
    from pcnn_fer.data.images import load_image
    from pcnn_fer.faces.align import align_box, align_detection
    from pcnn_fer.faces.detect import create_detector

    detector = create_detector("haar")
    cropped = []
    for sample in samples:
        image = load_image(sample.source)
        faces = detector.detect(image)
        if faces:
            crop, _ = align_detection(image, faces[0], size=size)
        else:
            crop, _ = align_box(image, (0.0, 0.0, float(image.shape[1]), float(image.shape[0])), size=size,
                                margin=0.0)
        cropped.append(replace(sample, source=np.ascontiguousarray(crop)))
    return samples.subset(cropped)
