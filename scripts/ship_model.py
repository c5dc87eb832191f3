"""Turn a finished FERPlus training run into a shipped pretrained entry of the package.

    python scripts/ship_model.py runs/ferplus-default --name pcnn_mbv2_ferplus --data-root ../shared/data/ferplus

What it measures and writes into the entry's metadata (config.json), printing each figure:
- validation (FER2013Valid, the split the run selected on) and test (FER2013Test) metrics under the majority
  rule, and test under the looser "argmax of the votes" rule, each with its protocol named; both majority
  figures again with flip test-time augmentation;
- a calibration temperature fitted on validation, and ECE / NLL before and after on test; the reliability
  diagram and the confusion matrices go to the run's plots/ folder;
- the prior correction (the training labels' class prior, its weight fitted on validation): every figure is
  measured with it, and test once more without it; with `--record-correction` the weight is recorded, not applied,
  and every figure is the model's own;
- that float16 storage (half the wheel size) keeps the predictions: top-1 agreement with float32 on test;
- the paper's rows with their published protocols (`pcnn-fer eval --paper-rows`: FERPlus Test, the argmax
  protocol, Occlusion-FERPlus, Pose>30 and Pose>45), with mean class accuracy, macro-F1 and per-class recall;
- milliseconds per face at batch 1 on the threads given, in torch;
- for a run that mixed other datasets in (data.mix): each source's held-out test subjects, its splits and terms;
- the framing the Recognizer must apply (FER2013's, see benchmarks/measure_framing.py), training data and terms,
  the recipe, the commit, and the training figures (wall time, images/s, epochs, selected epoch, machine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.engine.checkpoint import METRICS_FILE, RESULT_FILE, RunDir, git_revision
from pcnn_fer.engine.evaluate import (
    MAIN,
    EvalOptions,
    collect_logits,
    evaluate,
    fit_calibration,
    fit_prior_correction,
    held_out_logits,
    training_prior,
    write_evaluation,
)
from pcnn_fer.engine.fold_result import FoldResult
from pcnn_fer.engine.paper_rows import score_paper_rows
from pcnn_fer.faces.framing import FER2013_FRAMING
from pcnn_fer.models.metadata import WITHOUT_PRIOR_CORRECTION, ModelMetadata
from pcnn_fer.models.storage import load_model, save_model

SHIPPED = Path(__file__).resolve().parents[1] / "src" / "pcnn_fer" / "weights" / "shipped"
TERMS = {
    "ferplus": ("FER+ labels: MIT licence, Microsoft. FER2013 faces (Goodfellow et al. 2013): no stated licence, "
                "web-sourced, research use; cite Goodfellow et al. 2013 (arXiv:1307.0414) and Barsoum et al. 2016 "
                "(arXiv:1608.01041)"),
    "ckplus48": ("CK+ (extended Cohn-Kanade): non-commercial research only, images not redistributable; cite Lucey "
                 "et al., CVPR Workshops 2010 and Kanade, Cohn, Tian, FG 2000. A model trained on it inherits "
                 "these terms"),
}
TARGETS = {"majority": "majority vote", "argmax": "argmax of the votes",
           "probability": "trained on each face's vote distribution (the reader's probability rule), scored on the "
                          "majority vote",
           "crossentropy": "trained on each face's vote distribution (the reader's crossentropy rule), scored on the "
                           "majority vote",
           "multi_target": "trained on every class holding at least 30 % of the votes, scored on the majority vote"}
SOURCE_NAMES = {"ckplus48": "CK+48: the last three frames of the 327 labelled CK+ sequences, 48 px grey crops"}
KEPT = ("count", "accuracy", "mean_class_accuracy", "macro_f1", "per_class", "confusion", "class_names")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a finished training run directory")
    parser.add_argument("--name", required=True, help="the shipped entry's name")
    parser.add_argument("--data-root", default="../shared/data/ferplus")
    parser.add_argument("--lists", type=Path, default=Path("../shared/data/challenge_lists"),
                        help="the published challenge lists (ferplus/, rafdb/)")
    parser.add_argument("--summary", help="one line saying what the model is (default: from its config)")
    parser.add_argument("--recipe-file", help="the recipe the run trained from, e.g. configs/ferplus_balanced.yaml")
    parser.add_argument("--machine", default="2 CPU cores, no GPU", help="what the run trained on")
    parser.add_argument("--record-correction", action="store_true",
                        help="record the prior correction's fitted weight without applying it (weight 0): the "
                             "entry keeps its own predictions and every figure is measured without it")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    run = RunDir(args.run)
    model = load_model(run.path)
    history = [json.loads(line) for line in (run.path / METRICS_FILE).read_text().splitlines() if line]
    result = FoldResult.read(run.path / RESULT_FILE)
    majority = load_dataset("ferplus", args.data_root)
    argmax = load_dataset("ferplus", args.data_root, mode="argmax")
    val, test, test_argmax = majority.where(split="val"), majority.where(split="test"), argmax.where(split="test")
    options = EvalOptions(batch_size=256, workers=2)

    logits, targets = held_out_logits(model, val, options, "val")
    calibration = fit_calibration(logits, targets, "val")
    calibrated = replace(options, temperature=calibration["temperature"])
    # The prior correction, fitted for this temperature; where it is applied, every figure below but the first is
    # measured with it.
    prior = training_prior(majority.where(split="train"), model.config.class_names)
    correction = fit_prior_correction(logits, targets, prior, calibration["temperature"], "val",
                                      apply=not args.record_correction)
    model.metadata = ModelMetadata.from_dict({**model.metadata.to_dict(), "calibration": calibration})
    figures = {}
    if correction["weight"]:
        figures[WITHOUT_PRIOR_CORRECTION] = evaluate(model, test, replace(options, prior_weight=0.0),
                                                     description="test uncorrected")[MAIN]
    model.metadata = ModelMetadata.from_dict({**model.metadata.to_dict(), "prior_correction": correction})
    figures |= {"val": evaluate(model, val, options, description="val")[MAIN],
                "test": evaluate(model, test, calibrated, description="test")[MAIN],
                "test_vote_argmax": evaluate(model, test_argmax, options, description="test argmax")[MAIN],
                "val_flip_tta": evaluate(model, val, replace(options, flip_tta=True), description="val flip")[MAIN],
                "test_flip_tta": evaluate(model, test, replace(calibrated, flip_tta=True),
                                          description="test flip")[MAIN]}
    protocols = {WITHOUT_PRIOR_CORRECTION: "FERPlus Test (PrivateTest), majority vote, 8 classes, without the prior "
                                           "correction",
                 "val": "FERPlus Valid (PublicTest), majority vote, 8 classes",
                 "test": "FERPlus Test (PrivateTest), majority vote, 8 classes",
                 "test_vote_argmax": "FERPlus Test, argmax of the votes (every image whose top vote is an emotion)",
                 "val_flip_tta": "FERPlus Valid, majority vote, 8 classes, flip TTA (the face and its mirror averaged)",
                 "test_flip_tta": "FERPlus Test, majority vote, 8 classes, flip TTA (the face and its mirror averaged)"}
    calibration.update({"test_ece": figures["test"]["ece"], "test_ece_calibrated": figures["test"]["ece_calibrated"],
                        "test_nll": figures["test"]["nll"], "test_nll_calibrated": figures["test"]["nll_calibrated"]})
    write_evaluation({MAIN: figures["test"]}, run.plots, "shipped_test", "FERPlus Test (majority)")
    write_evaluation({MAIN: figures["test_vote_argmax"]}, run.plots, "shipped_test_argmax",
                     "FERPlus Test (argmax of votes)")

    mixed = model.metadata.recipe["data"].get("mix", [])
    sources = []
    for source in mixed:
        samples = load_dataset(source["dataset"], source["root"], **source["options"])
        key = f"{source['dataset']}_test"
        figures[key] = evaluate(model, samples.where(split="test"), calibrated, description=key)[MAIN]
        protocols[key] = (f"{source['dataset']}, its held-out test subjects (reader options {source['options']}), "
                          f"{len(samples.class_names)} classes")
        sources.append({"name": SOURCE_NAMES.get(source["dataset"], source["dataset"]),
                        "reader_options": source["options"], "share_of_draws": source["share"],
                        "splits": {s: sum(x.tags["split"] == s for x in samples) for s in ("train", "val", "test")},
                        "terms": TERMS[source["dataset"]]})

    paper_rows = score_paper_rows(model, "ferplus", Path(args.data_root), args.lists, options)
    entry = SHIPPED / args.name
    selected = model.metadata
    start = {"imagenet": "ImageNet start", "none": "from scratch"}.get(selected.recipe["model"]["pretrained"],
                                                                       "pretrained start")
    trained_options = selected.recipe["data"]["options"]
    trained_faces = load_dataset("ferplus", args.data_root, **trained_options)  # counted by its targets' rule
    metadata = {
        "name": args.name,
        "summary": args.summary or f"PCNN with {model.config.backbone} trunks ({start}) trained on FERPlus",
        "dataset": "ferplus",
        "training_data": {"name": " + ".join(["FERPlus: FER2013 faces with the FER+ votes of fer2013new.csv",
                                              *(source["name"] for source in sources)]),
                          "protocol": f"{TARGETS[trained_options.get('mode', 'majority')]}, "
                                      "8 classes (contempt included), official splits"
                                      + ("; every other source split by subject, relabelled into these classes"
                                         if sources else ""),
                          "splits": {s: sum(x.tags["split"] == s for x in trained_faces)
                                     for s in ("train", "val", "test")},
                          **({"sources": sources} if sources else {}),
                          "terms": " | ".join([TERMS["ferplus"], *(source["terms"] for source in sources)])},
        "framing": FER2013_FRAMING.to_dict(),
        "input": {"colour": "grey (replicated to 3 channels)", "size": model.config.input_size,
                  "mean": list(model.config.mean), "std": list(model.config.std),
                  "face": "FER2013's loose crop: the median landmark positions of FER2013 faces, cut at 48 px and "
                          "enlarged to the input size"},
        "recipe": selected.recipe, **({"recipe_file": args.recipe_file} if args.recipe_file else {}),
        "git_revision": selected.git_revision,  # the tree the run trained from ("-dirty": uncommitted edits)
        "shipped_at_revision": git_revision(),
        "selection": {"split": "val", "epoch": result.selected_epoch,
                      "metric": (selected.selection.metric if selected.selection else None) or "accuracy"},
        "training": {"epochs": len(history), "wall_time_s": round(sum(r["epoch_time_s"] for r in history)),
                     "train_images_per_s": round(sum(r["train_images_per_s"] for r in history) / len(history), 1),
                     "machine": args.machine},
        "metrics": {k: {"protocol": protocols[k], **{key: v[key] for key in KEPT}} for k, v in figures.items()},
        "calibration": calibration,
        "prior_correction": correction,
        "paper_rows": paper_rows,
        "speed": speed_record(model, args.threads),
    }
    save_model(model, entry, metadata, storage_dtype=torch.float16)

    shipped = load_model(entry)
    full, _ = collect_logits(model, test, options)
    half, targets = collect_logits(shipped, test, options)
    agreement = float((full.argmax(1) == half.argmax(1)).double().mean())
    accuracy_half = float((half.argmax(1) == targets).double().mean())
    print(f"float16 storage: top-1 agreement with float32 on test {100 * agreement:.2f} %, accuracy "
          f"{100 * accuracy_half:.2f} % (float32 {100 * figures['test']['accuracy']:.2f} %)")
    for k, v in figures.items():
        print(f"{protocols[k]}: {v['count']} faces, accuracy {100 * v['accuracy']:.2f} %, mean class accuracy "
              f"{100 * v['mean_class_accuracy']:.2f} %, macro-F1 {100 * v['macro_f1']:.2f} %")
    applied = "applied" if correction["weight"] else "recorded, not applied"
    print(f"prior correction: weight {model.metadata.prior_correction.suggested_weight:.2f} fitted on FERPlus Valid, "
          f"{applied}")
    print(f"calibration: T = {calibration['temperature']:.4f}; test ECE {100 * calibration['test_ece']:.2f} % -> "
          f"{100 * calibration['test_ece_calibrated']:.2f} %, NLL {calibration['test_nll']:.4f} -> "
          f"{calibration['test_nll_calibrated']:.4f}")
    print("test confusion (rows true, columns predicted):", figures["test"]["class_names"])
    for row in figures["test"]["confusion"]:
        print("  ", row)
    print_paper_rows(paper_rows)
    print(f"speed: {metadata['speed']}")
    print(f"training: {metadata['training']}, selected epoch {result.selected_epoch}")
    print(f"shipped: {entry} ({sum(f.stat().st_size for f in entry.iterdir()) / 1e6:.1f} MB)")


def print_paper_rows(rows: list[dict]) -> None:
    """One line per paper row: faces, accuracy beside the paper's, mean class accuracy, macro-F1."""
    for row in rows:
        print(f"{row['row']}: {row['faces']} faces, accuracy {row['accuracy']:.2f} % (paper "
              f"{row['paper'] if row['paper'] is not None else '-'}), mean class accuracy "
              f"{row['mean_class_accuracy']:.2f} %, macro-F1 {row['macro_f1']:.2f} %")


def speed_record(model: torch.nn.Module, threads: int) -> dict:
    """The card's speed entry: ms per face at batch 1 on `threads` threads, and the runtime that gave it."""
    return {"ms_per_face_batch1": ms_per_face(model, threads), "threads": threads,
            "runtime": f"torch {torch.__version__}"}


def ms_per_face(model: torch.nn.Module, threads: int, repeats: int = 50) -> float:
    """Median milliseconds of one face through the model at batch 1 on `threads` CPU threads."""
    torch.set_num_threads(threads)
    face = torch.randn(1, 3, model.config.input_size, model.config.input_size)
    model.eval()
    timings = []
    with torch.no_grad():
        for index in range(repeats + 5):
            started = time.perf_counter()
            model(face)
            if index >= 5:  # the first calls warm the allocator and the kernels up
                timings.append(1e3 * (time.perf_counter() - started))
    return round(statistics.median(timings), 2)


if __name__ == "__main__":
    main()
