"""How much accuracy a trained model gives up for mean class accuracy when FERPlus's class prior is divided out.

    python benchmarks/bench_prior_correction.py [--model NAME|DIR ...] [--data-root ../shared/data/ferplus]

Post-hoc logit adjustment: each face's logits minus TAU * log(training class frequency), for TAU from 0 (the
model as shipped) to 1 (the prior divided out entirely), scored on FERPlus Valid only, the split choices are made
on: accuracy, mean class accuracy and per-class recall under the majority of the fer2013new.csv votes. It needs no
training and shows the trade a class-balanced recipe has to beat.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from pcnn_fer import load_model
from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.engine.evaluate import EvalOptions, collect_logits
from pcnn_fer.engine.metrics import confusion_matrix, summarize

TAUS = (0.0, 0.25, 0.5, 0.75, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="model name or directory, repeatable (default: the default)")
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data/ferplus"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    faces = load_dataset("ferplus", args.data_root, mode="majority", contempt=True)
    train, val = faces.where(split="train"), faces.where(split="val")
    for name in args.model or [None]:
        model = load_model(name)
        classes = model.config.class_names
        counts = np.bincount([classes.index(faces.class_names[s.label]) for s in train], minlength=len(classes))
        log_prior = torch.from_numpy(np.log(counts / counts.sum())).float()
        logits, targets = collect_logits(model, val, EvalOptions(batch_size=256, workers=2), description="val")
        print(f"\n{name or 'default'} on FERPlus Valid ({len(val)} faces); training prior "
              + ", ".join(f"{c} {100 * n / counts.sum():.1f} %" for c, n in zip(classes, counts)))
        print("| tau | accuracy | mean class accuracy | macro-F1 | " + " | ".join(classes) + " |")
        print("|---:" * (4 + len(classes)) + "|")
        for tau in TAUS:
            predictions = (logits - tau * log_prior).argmax(1)
            summary = summarize(confusion_matrix(targets.numpy(), predictions.numpy(), len(classes)), classes)
            recalls = " | ".join(f"{100 * summary['per_class'][c]['recall']:.1f}" for c in classes)
            print(f"| {tau:.2f} | {100 * summary['accuracy']:.2f} | {100 * summary['mean_class_accuracy']:.2f} | "
                  f"{100 * summary['macro_f1']:.2f} | {recalls} |")


if __name__ == "__main__":
    main()
