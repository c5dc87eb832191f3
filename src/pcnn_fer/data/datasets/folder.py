"""A class-per-folder tree: `ROOT/<class>/*.jpg`, or `ROOT/<split>/<class>/*.jpg` with split folders
train / val / test (also training, valid, validation, testing).

Folder names may be expression names (any common spelling: "Happy", "angry", ...), which become canonical
classes, or numbers, which index the `classes` option (a dataset name such as "rafdb", or a comma-separated
list). Numbered folders count from 0 unless one_based is set, as in some reference code.
"""

from __future__ import annotations

from pathlib import Path

from pcnn_fer.data.bad_input import BadInputPolicy
from pcnn_fer.data.images import IMAGE_SUFFIXES
from pcnn_fer.data.labels import CANONICAL_CLASSES, NATIVE_CLASSES, canonical_name, class_order
from pcnn_fer.data.sample import Sample, SampleSet

SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
               "test": "test", "testing": "test"}


def read(root: Path, *, skip_bad: bool = False, classes: str | None = None, one_based: bool = False) -> SampleSet:
    """Images labelled by their folder; the split, if present, from the folder above."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: folder not found")
    policy = BadInputPolicy("folder", skip_bad)
    top = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if top and all(p.name.lower() in SPLIT_NAMES for p in top):
        class_dirs = [(SPLIT_NAMES[s.name.lower()], c) for s in top for c in sorted(s.iterdir()) if c.is_dir()]
    else:
        class_dirs = [(None, c) for c in top]
    if not class_dirs:
        raise FileNotFoundError(f"{root}: no class folders (expected ROOT/<class>/ or ROOT/<split>/<class>/)")
    names = _class_names([c.name for _, c in class_dirs], classes)
    index = {name: i for i, name in enumerate(names)}
    samples: list[Sample] = []
    for split, class_dir in class_dirs:
        label = index[_folder_class(class_dir.name, names, one_based, class_dir)]
        for path in sorted(class_dir.iterdir()):
            if path.name.startswith(".") or not path.is_file():
                continue
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                policy.reject(path, f"not an image file (expected one of {', '.join(sorted(IMAGE_SUFFIXES))})")
                continue
            key = f"{split}/{class_dir.name}/{path.stem}" if split else f"{class_dir.name}/{path.stem}"
            samples.append(Sample(path, label, key, None, {"split": split} if split else {}))
    return SampleSet("folder", names, samples, policy.report())


def _class_names(folders: list[str], classes: str | None) -> tuple[str, ...]:
    """The class order: the given one, else the canonical order of the expression folders found."""
    if classes is not None:
        return class_order(classes, "folder option classes")
    if any(name.isdigit() for name in folders):
        raise ValueError(f"numbered class folders {sorted(set(folders))} need a class order: pass classes= a dataset "
                         f"name ({', '.join(NATIVE_CLASSES)}) or a comma-separated list")
    unknown = sorted({name for name in folders if not _is_expression(name)})
    if unknown:
        # Users' own classes: keep their folder names, in sorted order.
        return tuple(sorted(set(folders)))
    found = {canonical_name(name) for name in folders}
    return tuple(c for c in CANONICAL_CLASSES if c in found)


def _folder_class(folder: str, names: tuple[str, ...], one_based: bool, path: Path) -> str:
    if folder.isdigit():
        number = int(folder) - (1 if one_based else 0)
        if not 0 <= number < len(names):
            raise ValueError(f"{path}: folder number {folder} is outside the {len(names)} classes {names} "
                             f"({'1' if one_based else '0'}-based; see one_based)")
        return names[number]
    if folder in names:
        return folder
    if _is_expression(folder) and canonical_name(folder) in names:
        return canonical_name(folder)
    raise ValueError(f"{path}: class folder {folder!r} is not one of {names}")


def _is_expression(name: str) -> bool:
    try:
        canonical_name(name)
    except ValueError:
        return False
    return True
