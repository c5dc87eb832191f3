"""Where FER2013's loose crops put the eyes, nose and mouth: the framing a model trained on them needs.

    python benchmarks/measure_framing.py [--images 200] [--split val]

Each 48x48 face is enlarged 4x and padded with its edge pixels (MTCNN wants context around a face), MTCNN
finds the five landmarks, and their positions are expressed in unit coordinates of the original crop. The
per-point medians, made left-right symmetric (a model trained with flips sees both sides alike), are the
five-point template that pcnn-fer's FERPlus models carry in their metadata, so the Recognizer frames a photo's
face the way FER2013 framed its faces. The spread (interquartile range) is printed
to show how loose FER2013's framing is.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.images import load_image
from pcnn_fer.faces.detect import LANDMARK_NAMES
from pcnn_fer.faces.registry import create_detector

SCALE, PAD = 4, 48


def landmarks_of(detector, grey48: np.ndarray) -> np.ndarray | None:
    """The five landmarks of the surest face in unit coordinates of the 48x48 crop, or None."""
    side = grey48.shape[0]
    large = cv2.resize(grey48, (side * SCALE, side * SCALE), interpolation=cv2.INTER_CUBIC)
    padded = cv2.copyMakeBorder(large, PAD, PAD, PAD, PAD, cv2.BORDER_REPLICATE)
    faces = detector.detect(np.repeat(padded[..., None], 3, axis=2))
    if not faces or faces[0].landmarks is None:
        return None
    best = max(faces, key=lambda face: face.detection_score)
    return (np.asarray(best.landmarks, dtype=np.float64) - PAD) / (side * SCALE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default="../shared/data/ferplus")
    parser.add_argument("--split", default="val", choices=("train", "val", "test"))
    parser.add_argument("--images", type=int, default=200)
    args = parser.parse_args()
    samples = [s for s in load_dataset("ferplus", args.data_root) if s.tags["split"] == args.split]
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(samples), size=min(args.images, len(samples)), replace=False)
    detector = create_detector("mtcnn")
    points = []
    for index in chosen:
        found = landmarks_of(detector, load_image(samples[index].source)[..., 0])
        if found is not None:
            points.append(found)
    points = np.stack(points)
    print(f"MTCNN found a face in {len(points)} of {len(chosen)} {args.split} faces")
    median = np.median(points, axis=0)
    low, high = np.percentile(points, 25, axis=0), np.percentile(points, 75, axis=0)
    for name, m, lo, hi in zip(LANDMARK_NAMES, median, low, high):
        print(f"  {name:12s} x {m[0]:.4f} (IQR {lo[0]:.3f}-{hi[0]:.3f})  y {m[1]:.4f} (IQR {lo[1]:.3f}-{hi[1]:.3f})")
    eye_distance = np.linalg.norm(points[:, 1] - points[:, 0], axis=1)
    print(f"  inter-ocular distance: median {np.median(eye_distance):.4f} of the crop width "
          f"(IQR {np.percentile(eye_distance, 25):.3f}-{np.percentile(eye_distance, 75):.3f})")
    mirrored = median[[1, 0, 2, 4, 3]] * [-1, 1] + [1, 0]  # left <-> right, x -> 1 - x
    symmetric = (median + mirrored) / 2
    print("template points (symmetric): (" + ", ".join(f"({m[0]:.4f}, {m[1]:.4f})" for m in symmetric) + ")")


if __name__ == "__main__":
    main()
