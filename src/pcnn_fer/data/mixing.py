"""Several datasets trained as one, and how often each training face is drawn.

A mixed set speaks the main dataset's classes: every other source is relabelled into them by canonical name, so a
source without some class (CK+ has no neutral face) still says something about it: its faces are never that class.
Sampling weights give each source its share of every epoch, so that a few hundred lab faces are not drowned by tens
of thousands of web faces, and, when balanced, each class its share inside its source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from pcnn_fer.data.labels import relabel
from pcnn_fer.data.sample import Sample, SampleSet

SOURCE_TAG = "source"  # tags[SOURCE_TAG]: the dataset a mixed-in sample came from; the main dataset's have none


def mix_sources(main: SampleSet, extras: Sequence[SampleSet]) -> SampleSet:
    """`main` followed by every sample of `extras`, relabelled into main's classes, keys prefixed by their dataset.

    Labels follow main's kind: a class index becomes a one-hot distribution when main's labels are distributions.
    When main has an official split, every extra sample must carry one too (a reader option sets one by subject).
    """
    if not extras:
        return main
    soft = bool(main.samples) and not isinstance(main.samples[0].label, int)
    split = bool(main.samples) and "split" in main.samples[0].tags
    names = [main.name, *(extra.name for extra in extras)]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"dataset(s) {twice} mixed in twice")
    samples = list(main.samples)
    skipped = list(main.skipped)
    for extra in extras:
        missing = [c for c in extra.class_names if c not in main.class_names]
        if missing:
            raise ValueError(f"{extra.name}'s class(es) {missing} are not among {main.name}'s "
                             f"{list(main.class_names)}; a mixed source must speak the main dataset's classes")
        unsplit = [s.key for s in extra if "split" not in s.tags]
        if split and unsplit:
            raise ValueError(f"{extra.name} has no train/val/test split (e.g. {unsplit[0]}) and {main.name} is "
                             f"trained on its official one: give {extra.name} reader options that split it by "
                             f"subject (ckplus48: val_subjects, test_subjects)")
        for sample in relabel(extra, main.class_names):
            samples.append(_as_mixed(sample, extra.name, len(main.class_names), soft))
        skipped += extra.skipped
    return SampleSet("+".join(names), main.class_names, samples, skipped)


def source_of(sample: Sample, main: str) -> str:
    """The dataset `sample` came from in a set mixed onto the dataset named `main`."""
    return sample.tags.get(SOURCE_TAG, main)


def draw_weights(train: SampleSet, shares: Mapping[str, float] | None = None,
                 balanced: bool = False) -> np.ndarray | None:
    """How likely each training sample is to be drawn (summing to 1), or None for a uniform draw.

    `shares` maps a mixed-in source to its share of every epoch's draws (0: its share by count); the main dataset
    gets what is left. `balanced` evens out classes inside each source (soft labels count toward their argmax).
    """
    shares = dict(shares or {})
    if not any(shares.values()) and not balanced:
        return None
    if not len(train):
        raise ValueError(f"{train.name}: cannot draw from an empty sample set")
    sources = np.array([s.tags.get(SOURCE_TAG, "") for s in train])
    names, counts = np.unique(sources, return_counts=True)
    by_count = dict(zip(names.tolist(), (counts / counts.sum()).tolist()))
    unknown = sorted(set(shares) - set(by_count))
    if unknown:
        raise ValueError(f"{train.name}: no training samples from mixed source(s) {unknown}")
    wanted = {name: shares.get(name) or by_count[name] for name in by_count if name}
    if sum(wanted.values()) >= 1.0:
        raise ValueError(f"mixed sources' shares {wanted} leave nothing for the main dataset (they must sum below 1)")
    wanted[""] = 1.0 - sum(wanted.values())
    labels = np.array([s.hard_label for s in train], dtype=np.int64)
    weights = np.zeros(len(train))
    for name in by_count:
        members = sources == name
        inside = np.ones(int(members.sum()))
        if balanced:
            class_counts = np.bincount(labels[members], minlength=len(train.class_names))
            inside = 1.0 / class_counts[labels[members]]
        weights[members] = wanted[name] * inside / inside.sum()
    return weights


def _as_mixed(sample: Sample, source: str, class_count: int, soft: bool) -> Sample:
    label = sample.label
    if soft and isinstance(label, int):
        label = tuple(float(c == label) for c in range(class_count))
    elif not soft and not isinstance(label, int):
        label = sample.hard_label
    return replace(sample, label=label, key=f"{source}:{sample.key}", tags={**sample.tags, SOURCE_TAG: source})
