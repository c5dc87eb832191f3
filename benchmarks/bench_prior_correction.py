"""How much accuracy a trained model gives up for mean class accuracy as FERPlus's class prior is divided out.

    python benchmarks/bench_prior_correction.py [--model NAME|DIR ...] [--data-root ../shared/data/ferplus]

The prior correction a model's metadata carries (pcnn_fer.models.metadata.PriorCorrection): probabilities
softmax(logits / T - W * log prior), the prior being the training labels' class frequencies, for W from 0 (the
model's own predictions) to 1 (the prior divided out entirely), scored on FERPlus Valid only, the split choices
are made on: accuracy, mean class accuracy, macro-F1 and per-class recall under the majority of the
fer2013new.csv votes, the weight fitted on Valid marked. A model whose metadata records no prior is given
FERPlus's training prior and a weight fitted here. Each model's logits are computed once; a closing table puts the
models side by side, without the correction and at their fitted weight, with the sum the weight is fitted on.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from pcnn_fer import load_model
from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.engine.evaluate import EvalOptions, fit_prior_correction, held_out_logits, training_prior
from pcnn_fer.engine.metrics import confusion_matrix, summarize
from pcnn_fer.models.metadata import ModelMetadata

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def corrected_summary(logits: torch.Tensor, targets: torch.Tensor, metadata: ModelMetadata, weight: float,
                      classes: tuple[str, ...]) -> dict:
    """The metrics of the predictions argmax(logits / T - weight * log prior), from logits without correction."""
    offset = metadata.logit_offset(weight)
    shifted = logits if offset is None else logits + torch.tensor(offset)
    return summarize(confusion_matrix(targets.numpy(), shifted.argmax(dim=1).numpy(), len(classes)), classes)


def figures(summary: dict) -> str:
    """accuracy / mean class accuracy / macro-F1 in %, as the tables print them."""
    return " / ".join(f"{100 * summary[key]:.2f}" for key in ("accuracy", "mean_class_accuracy", "macro_f1"))


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
    closing = []
    for name in args.model or [None]:
        model = load_model(name)
        classes = model.config.class_names
        logits, targets = held_out_logits(model, val, options, "val")
        if model.metadata.prior_correction is None:
            fitted = fit_prior_correction(logits, targets, training_prior(train, classes), model.metadata.temperature,
                                          "val")
            model.metadata = ModelMetadata.from_dict({**model.metadata.to_dict(), "prior_correction": fitted})
        correction = model.metadata.prior_correction
        print(f"\n{name or 'default'} on FERPlus Valid ({len(val)} faces), temperature "
              f"{model.metadata.temperature:.3f}; training prior "
              + ", ".join(f"{c} {100 * share:.2f} %" for c, share in zip(classes, correction.prior)))
        print("| W | accuracy | mean class accuracy | macro-F1 | " + " | ".join(classes) + " |")
        print("|---:" * (4 + len(classes)) + "|")
        fitted = correction.suggested_weight  # fitted on Valid too: applied by default, or only recorded
        for weight in sorted({*WEIGHTS, fitted}):
            summary = corrected_summary(logits, targets, model.metadata, weight, classes)
            recalls = " | ".join(f"{100 * summary['per_class'][c]['recall']:.1f}" for c in classes)
            mark = " (fitted)" if weight == fitted else ""
            print(f"| {weight:.2f}{mark} | {100 * summary['accuracy']:.2f} | "
                  f"{100 * summary['mean_class_accuracy']:.2f} | {100 * summary['macro_f1']:.2f} | {recalls} |")
        own, at_fitted = (corrected_summary(logits, targets, model.metadata, w, classes) for w in (0.0, fitted))
        closing.append(f"| {name or 'default'} | {figures(own)} | {fitted:.2f} | {figures(at_fitted)} | "
                       f"{100 * (at_fitted['accuracy'] + at_fitted['mean_class_accuracy']):.2f} |")
    print("\nOn FERPlus Valid, accuracy / mean class accuracy / macro-F1 (%):")
    print("| model | without the correction | fitted W | at the fitted W | accuracy + mean class accuracy |")
    print("|---|---:|---:|---:|---:|")
    print("\n".join(closing))

if __name__ == "__main__":
    main()
