"""Learnable synthetic faces-that-are-not-faces: one coloured shape per class on a noisy background."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from pcnn_fer.data.sample import Sample, SampleSet

CLASSES = ("happiness", "sadness", "surprise")
SHAPE_COLOURS = ((220, 40, 40), (40, 200, 40), (40, 40, 220))


def shape_image(label: int, rng: np.random.Generator, size: int) -> np.ndarray:
    """A square (0), a disc (1) or a triangle (2) at a random place and scale."""
    image = (40 + rng.integers(0, 30, (size, size, 3))).astype(np.uint8)
    rows, cols = np.mgrid[:size, :size]
    cy, cx = rng.integers(size // 3, 2 * size // 3, 2)
    r = int(rng.integers(size // 6, size // 4))
    if label == 0:
        mask = (abs(rows - cy) < r) & (abs(cols - cx) < r)
    elif label == 1:
        mask = (rows - cy) ** 2 + (cols - cx) ** 2 < r * r
    else:
        mask = (rows > cy - r) & (rows < cy + r) & (abs(cols - cx) < (rows - cy + r) / 2)
    image[mask] = SHAPE_COLOURS[label]
    return image


def make_shapes(train_per_class: int = 16, test_per_class: int = 4, size: int = 64, seed: int = 0,
                subjects: int = 4) -> SampleSet:
    """In-memory samples with official train/test split tags and subject ids."""
    rng = np.random.default_rng(seed)
    samples = []
    for split, count in (("train", train_per_class), ("test", test_per_class)):
        for label in range(len(CLASSES)):
            for i in range(count):
                samples.append(Sample(shape_image(label, rng, size), label, f"{split}_{label}_{i}",
                                      subject=f"S{i % subjects}", tags={"split": split}))
    return SampleSet("shapes", CLASSES, samples)


def write_shapes_tree(root: Path, train_per_class: int = 8, test_per_class: int = 4, size: int = 48,
                      seed: int = 0) -> Path:
    """The same data as PNG files in a class-per-folder tree ROOT/<split>/<class>/*.png (the folder reader)."""
    for sample in make_shapes(train_per_class, test_per_class, size, seed):
        folder = root / sample.tags["split"] / CLASSES[sample.label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(sample.source).save(folder / f"{sample.key}.png")
    return root
