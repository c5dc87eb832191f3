"""One canonical list of expression classes, and each dataset's native label order written in it.

Datasets number the same expressions differently (RAF-DB's 1 is surprise, FER2013's 0 is anger), so
labels are only ever compared through class names; `remap_labels` turns indices of one order into another.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from pcnn_fer.data.sample import Sample, SampleSet

log = logging.getLogger(__name__)

CANONICAL_CLASSES: tuple[str, ...] = (
    "neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger", "contempt",
)

# Native orders: position i is the class the dataset writes as its i-th label (after subtracting any
# 1-based offset, which the reader handles).
RAFDB_CLASSES = ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")
FER2013_CLASSES = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
FERPLUS_CLASSES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
CKPLUS_CLASSES = ("neutral", "anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise")
JAFFE_CLASSES = ("neutral", "anger", "disgust", "fear", "happiness", "sadness", "surprise")
AFFECTNET_CLASSES = ("neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger", "contempt")

NATIVE_CLASSES: dict[str, tuple[str, ...]] = {
    "rafdb": RAFDB_CLASSES,
    "fer2013": FER2013_CLASSES,
    "ferplus": FERPLUS_CLASSES,
    "ckplus": CKPLUS_CLASSES,
    "ckplus48": CKPLUS_CLASSES[1:],
    "jaffe": JAFFE_CLASSES,
    "affectnet": AFFECTNET_CLASSES,
}

JAFFE_CODES: dict[str, str] = {
    "NE": "neutral", "AN": "anger", "DI": "disgust", "FE": "fear", "HA": "happiness", "SA": "sadness",
    "SU": "surprise",
}

# Spellings found in dataset files, folder names and papers.
_ALIASES: dict[str, str] = {
    "neutral": "neutral", "neutrality": "neutral", "ne": "neutral",
    "happiness": "happiness", "happy": "happiness", "joy": "happiness", "ha": "happiness",
    "sadness": "sadness", "sad": "sadness", "sa": "sadness",
    "surprise": "surprise", "surprised": "surprise", "su": "surprise",
    "fear": "fear", "afraid": "fear", "fearful": "fear", "scared": "fear", "fe": "fear",
    "disgust": "disgust", "disgusted": "disgust", "di": "disgust",
    "anger": "anger", "angry": "anger", "an": "anger",
    "contempt": "contempt", "contemptuous": "contempt",
}


def canonical_name(name: str) -> str:
    """The canonical class for a spelling such as "Happy", "angry" or the JAFFE code "SU"."""
    key = name.strip().lower()
    if key not in _ALIASES:
        raise ValueError(f"unknown expression class {name!r}; expected one of {', '.join(CANONICAL_CLASSES)} "
                         f"(or a common spelling of them)")
    return _ALIASES[key]


def class_order(spec: str, field: str = "classes") -> tuple[str, ...]:
    """A class order written as a dataset name ("rafdb") or a comma-separated list ("Happy, sad, pain").

    Listed expression names become canonical (so labels compare by name across datasets); other names are
    the user's own classes, kept as written. `field` names the option in the error message.
    """
    if spec.strip().lower() in NATIVE_CLASSES:
        return NATIVE_CLASSES[spec.strip().lower()]
    names = tuple(_ALIASES.get(name.strip().lower(), name.strip()) for name in spec.split(","))
    if len(names) < 2 or not all(names):
        raise ValueError(f"{field}: expected a dataset name ({', '.join(NATIVE_CLASSES)}) or a comma-separated "
                         f"list of at least two names, got {spec!r}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{field}: class(es) {', '.join(repeated)} listed twice in {spec!r}")
    return names


def label_mapping(source: Sequence[str], target: Sequence[str]) -> np.ndarray:
    """index_in_target[i] for every class i of `source`; raises if a source class is absent from `target`."""
    target_index = {name: i for i, name in enumerate(target)}
    missing = [name for name in source if name not in target_index]
    if missing:
        raise ValueError(f"class(es) {', '.join(missing)} of {tuple(source)} have no counterpart in {tuple(target)}; "
                         f"drop those samples first (e.g. the 7-class setting without contempt)")
    return np.array([target_index[name] for name in source], dtype=np.int64)


def remap_labels(labels: Sequence[int] | np.ndarray, source: Sequence[str], target: Sequence[str]) -> np.ndarray:
    """Class indices written in the `source` order, rewritten in the `target` order (for cross-dataset evaluation)."""
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= len(source)):
        raise ValueError(f"label index out of range 0..{len(source) - 1} for classes {tuple(source)}")
    return label_mapping(source, target)[labels]


def relabel(samples: SampleSet, classes: Sequence[str], *, drop_missing: bool = False) -> SampleSet:
    """`samples` with labels rewritten in the order `classes`, e.g. to score a model trained on another dataset.

    A class of `samples` absent from `classes` raises, unless drop_missing: then its samples are left out (and
    distributions lose that class's share and are renormalised); how many is logged.
    """
    present = [name for name in samples.class_names if name in classes]
    if not drop_missing or len(present) == len(samples.class_names):
        mapping = label_mapping(samples.class_names, classes)
    else:
        mapping = np.array([list(classes).index(n) if n in classes else -1 for n in samples.class_names])
    kept: list[Sample] = []
    for sample in samples:
        if isinstance(sample.label, int):
            if mapping[sample.label] < 0:
                continue
            kept.append(replace(sample, label=int(mapping[sample.label])))
            continue
        distribution = np.zeros(len(classes))
        for source_index, target_index in enumerate(mapping):
            if target_index >= 0:
                distribution[target_index] = sample.label[source_index]
        if distribution.sum() > 0:
            kept.append(replace(sample, label=tuple(float(p) for p in distribution / distribution.sum())))
    if len(kept) < len(samples):
        log.info("%s: left out %d sample(s) of classes absent from %s", samples.name, len(samples) - len(kept),
                 tuple(classes))
    return SampleSet(samples.name, tuple(classes), kept, list(samples.skipped))
