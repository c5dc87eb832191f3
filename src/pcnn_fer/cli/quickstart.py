"""`pcnn-fer quickstart [DIR]`: the whole pipeline on real faces in a few minutes on a laptop CPU.

Fetches the CK+ sample (from the EmoPy package), crops the faces, trains the MobileNetV2 PCNN from ImageNet
weights with subject-independent cross-validation, evaluates each fold and writes the report. It shows
that everything works end to end; with a few dozen images it measures nothing about accuracy.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

DEMONSTRATION_NOTE = ("This is a demonstration of the pipeline on {count} real faces from the CK+ sample, "
                      "not an accuracy benchmark: folds hold a handful of images each.")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `quickstart` command and its flags."""
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
    """Fetch, crop, train with cross-validation, report; print where everything is and what to run next."""
    from pcnn_fer.atomic import write_text
    from pcnn_fer.data.datasets import load_dataset
    from pcnn_fer.data.fetch import fetch_ckplus_sample
    from pcnn_fer.data.labels import relabel
    from pcnn_fer.engine.checkpoint import FOLD_PREFIX, REPORT_FILE, SELECTED, RunDir
    from pcnn_fer.engine.config import load_config
    from pcnn_fer.engine.interruption import TrainingInterrupted
    from pcnn_fer.engine.reporting import headline
    from pcnn_fer.engine.train import train
    from pcnn_fer.faces.crops import crop_faces
    from pcnn_fer.models.storage import CONFIG_FILE, WEIGHTS_FILE

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
    report = root / REPORT_FILE
    title, _, rest = report.read_text().partition("\n")
    write_text(report, f"{title}\n\n> {note}\n{rest}")
    print(note)
    print(headline(root))
    first = RunDir(root).fold_runs()[0].path
    print(f"fold models: {root}/{FOLD_PREFIX}*/{SELECTED}/ ({CONFIG_FILE} + {WEIGHTS_FILE})\n"
          f"next: pcnn-fer predict PHOTO --model {first}   (recognise faces with fold 1's model)\n"
          f"      pcnn-fer train --config configs/ferplus_cpu.yaml --data-root DATA   (train on a real benchmark)")
    print(f"quickstart finished in {time.perf_counter() - started:.0f} s; report: {report}")
    return 0

