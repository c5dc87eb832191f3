"""CK+48: the last three frames of the 327 labelled CK+ sequences as 48x48 grey face crops, as the derivative is
published: `ROOT/<class>/S<subject>_<sequence>_<frame>.png`, one folder per class (anger, contempt, disgust,
fear, happy, sadness, surprise), no neutral (the onset frames are not in it). ROOT may also be the folder that
holds `CK+48/`.

The subject comes from each file name, so that CK+'s subject-independent k-fold protocol applies (all frames of
a subject in one fold: a sequence's frames are near duplicates). There is no official split. Its classes are
CK+'s seven expressions, in the order of the `ckplus` reader without neutral, so that models and folds of both
readers speak the same labels.
"""

from __future__ import annotations

import re
from pathlib import Path

from pcnn_fer.data.bad_input import BadInputPolicy
from pcnn_fer.data.labels import CKPLUS_CLASSES, canonical_name
from pcnn_fer.data.protocols import subject_split
from pcnn_fer.data.sample import Sample, SampleSet

FRAME_NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)\.png$", re.IGNORECASE)
FOLDER = "CK+48"
CLASS_FOLDERS = ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")  # as published


def read(root: Path, *, skip_bad: bool = False, contempt: bool = True, val_subjects: float = 0.0,
         test_subjects: float = 0.0) -> SampleSet:
    """CK+48's faces labelled by their folder, with subject and sequence from their names; contempt=False drops
    contempt (the 6-class setting). val_subjects / test_subjects > 0 give every face a fixed split by subject
    (those shares of the faces, whole subjects, seed 0): the held-out subjects of a model trained on several
    sources, scored later with `--split test` and the same options."""
    root = _find_root(root)
    classes = tuple(c for c in CKPLUS_CLASSES if c != "neutral" and (contempt or c != "contempt"))
    index = {name: i for i, name in enumerate(classes)}
    policy = BadInputPolicy("ckplus48", skip_bad)
    samples: list[Sample] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if folder.name.lower() not in CLASS_FOLDERS:
            policy.reject(folder, f"not one of CK+48's class folders ({', '.join(CLASS_FOLDERS)})")
            continue
        name = canonical_name(folder.name)
        if name not in index:
            continue
        for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
            match = FRAME_NAME.match(path.name)
            if match is None:
                policy.reject(path, "expected a face named S<subject>_<sequence>_<frame>.png")
                continue
            subject, sequence = match[1], match[2]
            samples.append(Sample(path, index[name], f"{folder.name}/{path.stem}", subject,
                                  {"sequence": f"{subject}_{sequence}"}))
    if not samples and not policy.skipped:
        raise FileNotFoundError(f"{root}: no CK+48 faces (expected <class>/S<subject>_<sequence>_<frame>.png)")
    found = SampleSet("ckplus48", classes, samples)
    if val_subjects or test_subjects:
        found = subject_split(found, val_subjects, test_subjects)
    found.skipped = policy.report()
    return found


def _find_root(root: Path) -> Path:
    """`root` itself, or its CK+48/ folder."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: folder not found")
    return root / FOLDER if (root / FOLDER).is_dir() else root
