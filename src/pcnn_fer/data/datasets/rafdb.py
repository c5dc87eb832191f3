"""RAF-DB basic: `EmoLabel/list_patition_label.txt` + `Image/aligned/` (or `Image/original/`).

Label lines read `train_00001.jpg 5` with labels 1-7 (surprise, fear, disgust, happiness, sadness, anger,
neutral); the split is the train_/test_ prefix (12,271 / 3,068 images). Keys are stems such as `test_0003`,
the names the challenge subsets use.
"""

from __future__ import annotations

from pathlib import Path

from pcnn_fer.data.bad_input import BadInputPolicy, DatasetError
from pcnn_fer.data.labels import RAFDB_CLASSES
from pcnn_fer.data.sample import Sample, SampleSet

LABEL_FILE = Path("EmoLabel") / "list_patition_label.txt"
SPLITS = {"train": "train", "test": "test"}


def find_root(root: Path) -> Path:
    """The folder holding EmoLabel/, accepting the dataset folder itself or its `basic/` parent."""
    for candidate in (root, root / "basic"):
        if (candidate / LABEL_FILE).is_file():
            return candidate
    raise FileNotFoundError(f"{root / LABEL_FILE}: RAF-DB label file not found (expected the RAF-DB `basic` "
                            f"folder, holding EmoLabel/ and Image/)")


def read(root: Path, *, skip_bad: bool = False, images: str = "aligned") -> SampleSet:
    """RAF-DB basic with its official train/test split; images="aligned" (default) or "original"."""
    if images not in ("aligned", "original"):
        raise ValueError(f"RAF-DB images must be 'aligned' or 'original', got {images!r}")
    root = find_root(root)
    label_file = root / LABEL_FILE
    image_dir = root / "Image" / images
    if not image_dir.is_dir():
        raise FileNotFoundError(f"{image_dir}: RAF-DB image folder not found")
    policy = BadInputPolicy("rafdb", skip_bad)
    samples: list[Sample] = []
    seen: set[str] = set()
    for number, line in enumerate(label_file.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2:
            policy.reject(label_file, f"expected '<name>.jpg <label 1-7>', got {line.strip()!r}", number)
            continue
        name, label_text = fields
        stem = Path(name).stem
        split = SPLITS.get(stem.split("_", 1)[0])
        if split is None:
            policy.reject(label_file, f"image name {name!r} starts with neither train_ nor test_", number)
            continue
        if not label_text.isdigit() or not 1 <= int(label_text) <= 7:
            policy.reject(label_file, f"label {label_text!r} is not in 1-7 (RAF-DB label files are 1-based)", number)
            continue
        if stem in seen:
            raise DatasetError(f"{label_file}:{number}: image {name} listed twice")
        seen.add(stem)
        path = image_dir / (f"{stem}_aligned.jpg" if images == "aligned" else name)
        if not path.is_file():
            policy.reject(path, f"image listed at {label_file.name}:{number} is missing")
            continue
        samples.append(Sample(path, int(label_text) - 1, stem, None, {"split": split}))
    return SampleSet("rafdb", RAFDB_CLASSES, samples, policy.report())
