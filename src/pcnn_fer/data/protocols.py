"""Evaluation protocols: how a dataset is cut into training and evaluation parts.

All cuts are deterministic for a given seed and keep the samples' original order inside each part.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import numpy as np

from pcnn_fer.data.sample import SampleSet

SPLIT_ORDER = ("train", "val", "test")


class NoOfficialSplitError(ValueError):
    """A sample set without an official split: its dataset is evaluated by cross-validation instead."""


def official_split(s: SampleSet) -> dict[str, SampleSet]:
    """The publisher's split, from tags["split"]: {"train": ..., "val": ..., "test": ...} (those present)."""
    parts: dict[str, list] = defaultdict(list)
    for sample in s:
        split = sample.tags.get("split")
        if split is None:
            raise NoOfficialSplitError(f"{s.name}: sample {sample.key} has no official split; this dataset is "
                                       f"evaluated with subject_kfold, leave_one_subject_out or random_kfold instead")
        parts[split].append(sample)
    unknown = set(parts) - set(SPLIT_ORDER)
    if unknown:
        raise ValueError(f"{s.name}: unknown split name(s) {sorted(unknown)}; expected {SPLIT_ORDER}")
    return {name: s.subset(parts[name]) for name in SPLIT_ORDER if name in parts}


def subject_kfold(s: SampleSet, k: int = 10, seed: int = 0) -> list[tuple[SampleSet, SampleSet]]:
    """k (train, test) folds with no subject in two folds; folds balanced by sample count."""
    by_subject = _group_by_subject(s)
    if len(by_subject) < k:
        raise ValueError(f"{s.name}: {len(by_subject)} subject(s) cannot fill {k} subject-independent folds; "
                         f"use k <= {len(by_subject)}")
    subjects = sorted(by_subject)
    order = np.random.default_rng(seed).permutation(len(subjects))
    # Largest subjects first into the emptiest fold: the shuffle decides ties, the greedy step balances sizes.
    shuffled = sorted((subjects[i] for i in order), key=lambda name: -len(by_subject[name]))
    fold_of: dict[str, int] = {}
    sizes = [0] * k
    for subject in shuffled:
        fold = int(np.argmin(sizes))
        fold_of[subject] = fold
        sizes[fold] += len(by_subject[subject])
    return [_cut(s, [fold_of[sample.subject] == fold for sample in s]) for fold in range(k)]


def leave_one_subject_out(s: SampleSet) -> list[tuple[SampleSet, SampleSet]]:
    """One (train, test) fold per subject, the subject alone in the test part; subjects in sorted order."""
    subjects = sorted(_group_by_subject(s))
    return [_cut(s, [sample.subject == subject for sample in s]) for subject in subjects]


def random_kfold(s: SampleSet, k: int = 10, seed: int = 0,
                 stratified: bool = True) -> list[tuple[SampleSet, SampleSet]]:
    """k (train, test) folds over samples at random, each class spread evenly over the folds when stratified."""
    if len(s) < k:
        raise ValueError(f"{s.name}: {len(s)} sample(s) cannot fill {k} folds")
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(s), dtype=np.int64)
    offset = 0
    for members in _strata(s, stratified):
        # Each class continues the round-robin where the previous one stopped: fold sizes differ by at most one.
        fold_of[rng.permutation(members)] = (np.arange(len(members)) + offset) % k
        offset += len(members)
    return [_cut(s, (fold_of == fold).tolist()) for fold in range(k)]


def holdout(s: SampleSet, fraction: float = 0.1, seed: int = 0, stratified: bool = True,
            by_subject: bool = False) -> tuple[SampleSet, SampleSet]:
    """(train, val) with about `fraction` of `s` held out for model selection, per class when stratified.

    by_subject holds out whole subjects instead (stratification then does not apply).
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"holdout fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    held = np.zeros(len(s), dtype=bool)
    if by_subject:
        by_subject_index = _group_by_subject(s)
        target = fraction * len(s)
        for subject in rng.permutation(sorted(by_subject_index)):
            if held.sum() >= target:
                break
            held[by_subject_index[subject]] = True
    else:
        for members in _strata(s, stratified):
            count = int(round(fraction * len(members)))
            held[rng.permutation(members)[:count]] = True
    if held.all() or not held.any():
        raise ValueError(f"{s.name}: a {fraction:.0%} hold-out of {len(s)} sample(s) leaves one side empty")
    train, val = _cut(s, held.tolist())
    return train, val


def subject_split(s: SampleSet, val: float = 0.0, test: float = 0.0, seed: int = 0) -> SampleSet:
    """`s` with tags["split"] set by subject: about `test` of the samples in "test", `val` in "val", the rest
    "train", no subject in two parts; a dataset without an official split gets a fixed one (held-out subjects
    that a model mixed from several sources never trains on)."""
    if val < 0 or test < 0 or val + test >= 1.0:
        raise ValueError(f"{s.name}: subject shares val {val} and test {test} must be >= 0 and sum below 1")
    split_of: dict[str, str] = {}
    rest = s
    for name, share in (("test", test), ("val", val / (1.0 - test))):
        if share > 0:
            rest, held = holdout(rest, share, seed, by_subject=True)
            split_of.update({sample.key: name for sample in held})
    return s.subset([replace(sample, tags={**sample.tags, "split": split_of.get(sample.key, "train")})
                     for sample in s])


def _cut(s: SampleSet, in_second: list[bool]) -> tuple[SampleSet, SampleSet]:
    first = [sample for sample, flag in zip(s, in_second) if not flag]
    second = [sample for sample, flag in zip(s, in_second) if flag]
    return s.subset(first), s.subset(second)


def _group_by_subject(s: SampleSet) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for index, sample in enumerate(s):
        if sample.subject is None:
            raise ValueError(f"{s.name}: sample {sample.key} has no subject id; subject-wise protocols need one "
                             f"for every sample")
        groups[sample.subject].append(index)
    return groups


def _strata(s: SampleSet, stratified: bool) -> list[np.ndarray]:
    if not stratified:
        return [np.arange(len(s))]
    labels = np.array([sample.hard_label for sample in s], dtype=np.int64)
    return [np.flatnonzero(labels == c) for c in np.unique(labels)]
