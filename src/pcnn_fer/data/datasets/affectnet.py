"""AffectNet, in either of its two releases:

- folders: `train_set|val_set/images/N.jpg` with `annotations/N_exp.npy` (the expression code);
- CSV: `training.csv` / `validation.csv` with columns subDirectory_filePath, face_x, face_y, face_width,
  face_height, facial_landmarks, expression, valence, arousal; images under `Manually_Annotated_Images/`.

Codes 0-7 = neutral, happiness, sadness, surprise, fear, disgust, anger, contempt; 8-10 (none, uncertain,
no face) are left out by design. AffectNet's test set is not public, so its validation set is the test split
of every published result; carve validation data from train with protocols.holdout.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from pathlib import Path

import numpy as np

from pcnn_fer.data.bad_input import BadInputPolicy, DatasetError
from pcnn_fer.data.labels import AFFECTNET_CLASSES
from pcnn_fer.data.sample import Sample, SampleSet

log = logging.getLogger(__name__)

FOLDERS = {"train_set": "train", "val_set": "test"}
CSV_FILES = {"training.csv": "train", "validation.csv": "test"}
CSV_COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks",
               "expression", "valence", "arousal")
IMAGES_DIR = "Manually_Annotated_Images"
LEFT_OUT_CODES = {8: "none", 9: "uncertain", 10: "no face"}
CONTEMPT = 7


def read(root: Path, *, skip_bad: bool = False, contempt: bool = True, images_dir: str | None = None) -> SampleSet:
    """AffectNet with train and test (= published validation) splits; contempt=False gives the 7-class setting."""
    policy = BadInputPolicy("affectnet", skip_bad)
    classes = AFFECTNET_CLASSES if contempt else AFFECTNET_CLASSES[:CONTEMPT]
    left_out: Counter[str] = Counter()
    folder_sets = {name: root / name for name in FOLDERS if (root / name / "images").is_dir()}
    csv_files = {name: root / name for name in CSV_FILES if (root / name).is_file()}
    if folder_sets:
        rows = _folder_rows(folder_sets, policy)
    elif csv_files:
        rows = _csv_rows(csv_files, Path(images_dir).expanduser() if images_dir else root / IMAGES_DIR, policy)
    else:
        raise FileNotFoundError(f"{root}: no AffectNet release here (expected train_set/ and val_set/ folders, "
                                f"or training.csv and validation.csv)")
    samples = []
    for key, path, split, code, tags in rows:
        if code in LEFT_OUT_CODES or (code == CONTEMPT and not contempt):
            left_out[LEFT_OUT_CODES.get(code, "contempt")] += 1
            continue
        samples.append(Sample(path, code, key, None, {"split": split, **tags}))
    for what, count in sorted(left_out.items()):
        log.info("affectnet: left out %d image(s) labelled %s (not an expression class here)", count, what)
    return SampleSet("affectnet", classes, samples, policy.report())


def _code(text: str, where: Path, line: int | None, policy: BadInputPolicy) -> int | None:
    text = text.strip()
    if not text.lstrip("-").isdigit() or not 0 <= int(text) <= 10:
        policy.reject(where, f"expression {text!r} is not a code 0-10", line)
        return None
    return int(text)


def _folder_rows(folder_sets: dict[str, Path], policy: BadInputPolicy):
    for name, folder in folder_sets.items():
        for image in sorted((folder / "images").glob("*.jpg")):
            annotation = folder / "annotations" / f"{image.stem}_exp.npy"
            if not annotation.is_file():
                policy.reject(annotation, f"missing: the expression label of {image.name}")
                continue
            try:
                value = np.load(annotation, allow_pickle=False)  # never unpickle: labels are plain arrays
            except (ValueError, OSError) as error:
                policy.reject(annotation, f"not a plain .npy array ({error})")
                continue
            if value.size != 1:
                policy.reject(annotation, f"expected one expression code, got an array of shape {value.shape}")
                continue
            code = _code(str(value.reshape(-1)[0]), annotation, None, policy)
            if code is not None:
                yield f"{name}/{image.stem}", image, FOLDERS[name], code, {}


def _csv_rows(csv_files: dict[str, Path], images: Path, policy: BadInputPolicy):
    if not images.is_dir():
        raise FileNotFoundError(f"{images}: AffectNet image folder not found (pass images_dir=PATH)")
    for name, path in csv_files.items():
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [c.strip() for c in next(reader, [])]
            if header != list(CSV_COLUMNS):
                raise DatasetError(f"{path}:1: columns {header}; expected {list(CSV_COLUMNS)}")
            for line, record in enumerate(reader, start=2):
                if not record:
                    continue
                if len(record) != len(CSV_COLUMNS):
                    policy.reject(path, f"expected {len(CSV_COLUMNS)} fields, got {len(record)}", line)
                    continue
                code = _code(record[6], path, line, policy)
                if code is None:
                    continue
                image = images / record[0].strip()
                if not image.is_file():
                    policy.reject(image, f"image listed at {path.name}:{line} is missing")
                    continue
                box = ",".join(field.strip() for field in record[1:5])
                yield record[0].strip(), image, CSV_FILES[name], code, {"face_box": box}
