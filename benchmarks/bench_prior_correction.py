"""How much accuracy a trained model gives up for mean class accuracy as FERPlus's class prior is divided out.

    python benchmarks/bench_prior_correction.py [--model NAME|DIR ...] [--data-root ../shared/data/ferplus]

The prior correction a model's metadata carries (pcnn_fer.models.metadata.PriorCorrection): probabilities
softmax(logits / T - W * log prior), the prior being the training labels' class frequencies, for W from 0 (the
model's own predictions) to 1 (the prior divided out entirely), scored on FERPlus Valid only, the split choices
are made on: accuracy, mean class accuracy, macro-F1 and per-class recall under the majority of the
fer2013new.csv votes, the weight fitted on Valid marked. A model whose metadata records no prior is given
FERPlus's training prior and a weight fitted here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from pcnn_fer import load_model
from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.engine.evaluate import MAIN, EvalOptions, evaluate, fit_prior_correction
from pcnn_fer.models.metadata import ModelMetadata

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="model name or directory, repeatable (default: the default)")
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data/ferplus"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    faces = load_dataset("ferplus", args.data_root, mode="majority", contempt=True)
    train, val = faces.where(split="train"), faces.where(split="val")
    options = EvalOptions(batch_size=256, workers=2, show_progress=False)
    for name in args.model or [None]:
        model = load_model(name)
        classes = model.config.class_names
        correction = model.metadata.prior_correction
        if correction is None:
            fitted = fit_prior_correction(model, train, val, options, "val")
            model.metadata = ModelMetadata.from_dict({**model.metadata.to_dict(), "prior_correction": fitted})
            correction = model.metadata.prior_correction
        print(f"\n{name or 'default'} on FERPlus Valid ({len(val)} faces), temperature "
              f"{model.metadata.temperature:.3f}; training prior "
              + ", ".join(f"{c} {100 * share:.2f} %" for c, share in zip(classes, correction.prior)))
        print("| W | accuracy | mean class accuracy | macro-F1 | " + " | ".join(classes) + " |")
        print("|---:" * (4 + len(classes)) + "|")
        # The weight fitted on Valid too: applied by default, or only recorded ("fitted_weight", a weight of 0).
        fitted = (correction.model_extra or {}).get("fitted_weight", correction.weight)
        for weight in sorted({*WEIGHTS, fitted}):
            summary = evaluate(model, val, EvalOptions(batch_size=256, workers=2, show_progress=False,
                                                       prior_weight=weight))[MAIN]
            recalls = " | ".join(f"{100 * summary['per_class'][c]['recall']:.1f}" for c in classes)
            mark = " (fitted)" if weight == fitted else ""
            print(f"| {weight:.2f}{mark} | {100 * summary['accuracy']:.2f} | "
                  f"{100 * summary['mean_class_accuracy']:.2f} | {100 * summary['macro_f1']:.2f} | {recalls} |")


if __name__ == "__main__":
    main()
