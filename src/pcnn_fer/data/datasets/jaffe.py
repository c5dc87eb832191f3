"""JAFFE: 213 images of 10 Japanese women, named like `KA.AN1.39.tiff` (subject . expression+take . image id).

Expressions NE AN DI FE HA SA SU. No official split: evaluated leave-one-subject-out (10 folds) or by
10-fold random cross-validation (see data.protocols).
"""

from __future__ import annotations

import re
from pathlib import Path

from pcnn_fer.data.bad_input import BadInputPolicy
from pcnn_fer.data.labels import JAFFE_CLASSES, JAFFE_CODES
from pcnn_fer.data.sample import Sample, SampleSet

FILE_NAME = re.compile(r"^([A-Z]{2})\.([A-Z]{2})(\d+)\.(\d+)\.tiff?$", re.IGNORECASE)
SUFFIXES = (".tiff", ".tif")


def read(root: Path, *, skip_bad: bool = False) -> SampleSet:
    """Every JAFFE .tiff under `root` (searched recursively), subject from the first two letters."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: JAFFE folder not found")
    policy = BadInputPolicy("jaffe", skip_bad)
    index = {name: i for i, name in enumerate(JAFFE_CLASSES)}
    samples: list[Sample] = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()):
        match = FILE_NAME.match(path.name)
        if match is None:
            policy.reject(path, "expected a JAFFE name like KA.AN1.39.tiff (subject.expression+take.id.tiff)")
            continue
        subject, code = match[1].upper(), match[2].upper()
        if code not in JAFFE_CODES:
            policy.reject(path, f"expression code {code!r} is not one of {', '.join(JAFFE_CODES)}")
            continue
        samples.append(Sample(path, index[JAFFE_CODES[code]], path.stem, subject))
    if not samples and not policy.skipped:
        raise FileNotFoundError(f"{root}: no JAFFE .tiff images found")
    return SampleSet("jaffe", JAFFE_CLASSES, samples, policy.report())
