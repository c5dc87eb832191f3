"""Builders for tiny datasets in their publishers' on-disk formats, and the real benchmark data beside the repo."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _write_image(path: Path, seed: int = 0, size: int = 16) -> Path:
    """A small distinct image; the format follows the suffix (.jpg, .png, .tiff)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    if path.suffix.lower() in (".tiff", ".tif"):
        image = image.convert("L")  # JAFFE images are grey
    image.save(path)
    return path


@pytest.fixture
def write_image() -> Callable[..., Path]:
    return _write_image


def _pixel_text(pixels: np.ndarray) -> str:
    return " ".join(str(int(v)) for v in pixels.reshape(-1))


def _write_fer2013(path: Path, rows: Sequence[tuple[int, np.ndarray | str, str]], newline: str = "\n") -> Path:
    """fer2013.csv: header emotion,pixels,Usage; pixels as 2,304 space-separated numbers (or raw text)."""
    lines = ["emotion,pixels,Usage"]
    for emotion, pixels, usage in rows:
        text = pixels if isinstance(pixels, str) else _pixel_text(pixels)
        lines.append(f"{emotion},{text},{usage}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(newline.join(lines) + newline)
    return path


@pytest.fixture
def write_fer2013() -> Callable[..., Path]:
    return _write_fer2013


@pytest.fixture
def fer_pixels() -> Callable[[int], np.ndarray]:
    """Distinct 48 x 48 uint8 faces, one per seed (the seed is written into the first pixel)."""
    def make(seed: int) -> np.ndarray:
        pixels = np.random.default_rng(seed).integers(0, 256, (48, 48), dtype=np.uint8)
        pixels[0, 0] = seed
        return pixels
    return make


@pytest.fixture
def rafdb_tree(tmp_path: Path) -> Path:
    """RAF-DB basic: 6 train + 4 test images, labels 1-7 in the label file."""
    root = tmp_path / "basic"
    lines = []
    entries = [("train_00001", 1), ("train_00002", 4), ("train_00003", 7), ("train_00004", 4), ("train_00005", 5),
               ("train_00006", 7), ("test_0001", 1), ("test_0002", 7), ("test_0003", 4), ("test_0004", 6)]
    for seed, (stem, label) in enumerate(entries):
        lines.append(f"{stem}.jpg {label}")
        _write_image(root / "Image" / "aligned" / f"{stem}_aligned.jpg", seed)
        _write_image(root / "Image" / "original" / f"{stem}.jpg", seed, size=24)
    (root / "EmoLabel").mkdir(parents=True)
    (root / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def ckplus_tree(tmp_path: Path) -> Path:
    """CK+: 4 subjects; sequences of 6 frames; labelled with CK+ float codes; one unlabelled sequence."""
    root = tmp_path / "CK+"
    # (subject, sequence, frames, code or None)
    sequences = [("S005", "001", 6, 3), ("S010", "002", 6, 7), ("S010", "004", 5, 1), ("S011", "001", 6, 2),
                 ("S014", "003", 4, 5), ("S014", "005", 6, None)]
    for seed, (subject, sequence, frames, code) in enumerate(sequences):
        for frame in range(1, frames + 1):
            name = f"{subject}_{sequence}_{frame:08d}.png"
            _write_image(root / "cohn-kanade-images" / subject / sequence / name, seed * 10 + frame, size=12)
        if code is not None:
            label = root / "Emotion" / subject / sequence / f"{subject}_{sequence}_{frames:08d}_emotion.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text(f"   {float(code):.7e}\n")
    return root


JAFFE_SUBJECTS = ("KA", "KL", "KM", "KR", "MK", "NA", "NM", "TM", "UY", "YM")
JAFFE_CODES = ("NE", "AN", "DI", "FE", "HA", "SA", "SU")


@pytest.fixture
def jaffe_tree(tmp_path: Path) -> Path:
    """JAFFE: 10 subjects x 7 expressions x 1-2 takes, named like KA.AN1.39.tiff, plus a README."""
    root = tmp_path / "jaffe"
    image_id = 1
    for subject in JAFFE_SUBJECTS:
        for code in JAFFE_CODES:
            for take in (1, 2) if code in ("HA", "SU") else (1,):
                _write_image(root / f"{subject}.{code}{take}.{image_id}.tiff", image_id, size=8)
                image_id += 1
    (root / "README").write_text("The Japanese Female Facial Expression (JAFFE) Database\n")
    return root
