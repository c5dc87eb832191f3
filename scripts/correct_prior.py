"""Fit the prior correction of shipped FERPlus entries on FERPlus Valid and measure them again with it.

    python scripts/correct_prior.py pcnn_mbv2_ferplus_ckplus48_gentle --data-root ../shared/data/ferplus
    python scripts/correct_prior.py pcnn_mbv2_ferplus pcnn_r18_ferplus --record-only

For each entry: the class prior of FERPlus's training labels (fer2013new.csv majority), the weight fitted on Valid
(pcnn_fer.engine.calibration.fit_prior_weight: the best accuracy + mean class accuracy), then Valid, Test, the
argmax protocol, the other sources' held-out subjects and the paper's rows scored again with it. The Test figures
without it stay in the card as "test_without_prior_correction". Each figure is printed; the entry's weights are
not touched, only its metadata. What scripts/ship_model.py does for a new entry, for one already shipped.
`--record-only` keeps an entry's predictions and figures as they are: the prior and the fitted weight are recorded
(as "fitted_weight") with a weight of 0, so that users may opt in with `--prior-correction W`.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch
from ship_model import KEPT, SHIPPED, print_paper_rows

from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.engine.evaluate import (
    MAIN,
    EvalOptions,
    evaluate,
    fit_prior_correction,
    held_out_logits,
    training_prior,
)
from pcnn_fer.engine.paper_rows import score_paper_rows
from pcnn_fer.models.metadata import WITHOUT_PRIOR_CORRECTION as WITHOUT
from pcnn_fer.models.metadata import ModelMetadata, PriorCorrection
from pcnn_fer.models.storage import load_model, save_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", help="shipped entries to correct")
    parser.add_argument("--data-root", default="../shared/data/ferplus")
    parser.add_argument("--lists", type=Path, default=Path("../shared/data/challenge_lists"),
                        help="the published challenge lists (ferplus/, rafdb/)")
    parser.add_argument("--record-only", action="store_true",
                        help="record the prior and the fitted weight, apply a weight of 0 (figures unchanged)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    majority = load_dataset("ferplus", args.data_root)
    argmax = load_dataset("ferplus", args.data_root, mode="argmax")
    sets = {"val": majority.where(split="val"), "test": majority.where(split="test"),
            "test_vote_argmax": argmax.where(split="test")}
    options = EvalOptions(batch_size=256, workers=2)
    for name in args.names:
        entry = SHIPPED / name
        model = load_model(entry)
        metadata = model.metadata.to_dict()
        prior = training_prior(majority.where(split="train"), model.config.class_names)
        logits, targets = held_out_logits(model, sets["val"], options, "val")
        correction = fit_prior_correction(logits, targets, prior, model.metadata.temperature, "val",
                                          apply=not args.record_only)
        fitted = PriorCorrection.model_validate(correction).suggested_weight
        print(f"{name}: prior correction weight {fitted:.2f} (fitted on FERPlus Valid); prior "
              f"{dict(zip(model.config.class_names, correction['prior']))}")
        if args.record_only:
            save_model(model, entry, {**metadata, "prior_correction": correction}, storage_dtype=torch.float16)
            continue
        uncorrected = metadata["metrics"].get(WITHOUT, metadata["metrics"]["test"])
        model.metadata = ModelMetadata.from_dict({**metadata, "prior_correction": correction})
        metrics = {WITHOUT: {**uncorrected, "protocol": uncorrected["protocol"] + ", without the prior correction"}}
        for key, figures in metadata["metrics"].items():
            if key == WITHOUT:
                continue
            samples, flip = _samples_of(key, sets, metadata)
            measured = evaluate(model, samples, replace(options, flip_tta=flip), description=key)[MAIN]
            metrics[key] = {"protocol": figures["protocol"], **{k: measured[k] for k in KEPT}}
        for figures in metrics.values():
            print(f"  {figures['protocol']}: {figures['count']} faces, accuracy {100 * figures['accuracy']:.2f} %, "
                  f"mean class accuracy {100 * figures['mean_class_accuracy']:.2f} %, macro-F1 "
                  f"{100 * figures['macro_f1']:.2f} %")
        paper_rows = score_paper_rows(model, "ferplus", Path(args.data_root), args.lists, options)
        print_paper_rows(paper_rows)
        save_model(model, entry, {**metadata, "prior_correction": correction, "metrics": metrics,
                                  "paper_rows": paper_rows}, storage_dtype=torch.float16)


def _samples_of(key: str, sets: dict, metadata: dict):
    """The faces a card's figure was measured on, and whether with flip TTA: FERPlus's splits by name, another
    source's held-out subjects (`<dataset>_test`) read with the options its recipe mixed it in with."""
    base, flip = (key.removesuffix("_flip_tta"), True) if key.endswith("_flip_tta") else (key, False)
    if base in sets:
        return sets[base], flip
    dataset = base.removesuffix("_test")
    source = next(s for s in metadata["recipe"]["data"].get("mix", []) if s["dataset"] == dataset)
    return load_dataset(dataset, source["root"], **source["options"]).where(split="test"), flip


if __name__ == "__main__":
    main()
