"""The readers on the real FER2013 and FERPlus files in shared/data: counts that only the full data can check.

FERPlus labels are cross-checked against a tally made here from the raw CSV files, so a reader bug shows up as a
disagreement rather than being written into the expected figures.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path

import pytest

from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.labels import FER2013_CLASSES, FERPLUS_CLASSES, canonical_name
from pcnn_fer.data.sample import SampleSet

SPLITS = ("train", "val", "test")

# Per split, in FER2013_CLASSES order (anger, disgust, fear, happiness, sadness, surprise, neutral); val and test
# are the PublicTest_ and PrivateTest_ files of the Kaggle test/ folders.
FER2013_COUNTS = {
    "train": (3995, 436, 4097, 7215, 4830, 3171, 4965),
    "val": (467, 56, 496, 895, 653, 415, 607),
    "test": (491, 55, 528, 879, 594, 416, 626),
}

# Majority rule, 8 classes, per split, in FERPLUS_CLASSES order
# (neutral, happiness, surprise, sadness, anger, disgust, fear, contempt).
FERPLUS_COUNTS = {
    "fer2013new": {
        "train": (8739, 7287, 3149, 3013, 2099, 119, 532, 119),
        "val": (1182, 865, 415, 351, 287, 24, 62, 13),
        "test": (1090, 893, 396, 384, 273, 18, 83, 16),
    },
    "label_csv": {
        "train": (8733, 7284, 3136, 3022, 2098, 116, 536, 120),
        "val": (1180, 862, 411, 348, 289, 25, 60, 16),
        "test": (1083, 892, 394, 382, 269, 16, 86, 15),
    },
}
FERPLUS_FOLDERS = {"FER2013Train": "train", "FER2013Valid": "val", "FER2013Test": "test"}
DUPLICATED_NAMES = ("fer0006953", "fer0008403", "fer0011785", "fer0033120")

Votes = dict[str, tuple[str, list[int]]]  # image stem -> (split, 10 vote counts)


def per_split(samples: SampleSet) -> dict[str, tuple[int, ...]]:
    counts = Counter((s.tags["split"], s.hard_label) for s in samples)
    return {split: tuple(counts[split, c] for c in range(len(samples.class_names))) for split in SPLITS}


def majority(votes: list[int]) -> int | None:
    """FERPlus's majority rule, written out apart from the reader: drop single votes, then the top column must
    hold more than half of what remains and be one of the 8 emotions."""
    kept = [v if v > 1 else 0 for v in votes]
    top = kept.index(max(kept))
    return top if top < len(FERPLUS_CLASSES) and 2 * kept[top] > sum(kept) else None


def tally(votes: Votes) -> dict[str, tuple[int, ...]]:
    labels = Counter((split, majority(v)) for split, v in votes.values())
    return {split: tuple(labels[split, c] for c in range(len(FERPLUS_CLASSES))) for split in SPLITS}


@pytest.fixture(scope="module")
def fer2013_folders(shared_fer2013: Path) -> SampleSet:
    return load_dataset("fer2013", shared_fer2013)


@pytest.fixture(scope="module")
def ferplus_sets(shared_ferplus: Path) -> dict[str, SampleSet]:
    return {"fer2013new": load_dataset("ferplus", shared_ferplus),
            "label_csv": load_dataset("ferplus", shared_ferplus, votes="label_csv")}


@pytest.fixture(scope="module")
def png_names(shared_ferplus: Path) -> dict[str, str]:
    """Image stem -> split for every PNG in the FERPlus folders, found by listing them."""
    return {name[:-4]: split for folder, split in FERPLUS_FOLDERS.items()
            for name in os.listdir(shared_ferplus / folder) if name.endswith(".png")}


@pytest.fixture(scope="module")
def new_rows(shared_ferplus: Path) -> list[list[str]]:
    with open(shared_ferplus / "fer2013new.csv", newline="") as handle:
        return list(csv.reader(handle))[1:]


@pytest.fixture(scope="module")
def raw_votes(shared_ferplus: Path, png_names: dict[str, str], new_rows: list[list[str]]) -> dict[str, Votes]:
    """Each source's votes for the folder images, parsed here from the raw files."""
    by_name = {}
    for row in new_rows:
        if row[1]:
            by_name.setdefault(row[1][:-4], [int(v) for v in row[2:]])  # a name's earlier row is kept
    from_label_csv = {}
    for folder in FERPLUS_FOLDERS:
        with open(shared_ferplus / folder / "label.csv", newline="") as handle:
            from_label_csv.update({row[0][:-4]: [int(v) for v in row[-10:]] for row in csv.reader(handle) if row})
    assert set(from_label_csv) == set(png_names)
    return {"fer2013new": {name: (split, by_name[name]) for name, split in png_names.items()},
            "label_csv": {name: (split, from_label_csv[name]) for name, split in png_names.items()}}


def test_fer2013_kaggle_folders_per_split_and_class(fer2013_folders):
    assert fer2013_folders.class_names == FER2013_CLASSES
    assert fer2013_folders.skipped == []
    assert per_split(fer2013_folders) == FER2013_COUNTS
    assert [sum(FER2013_COUNTS[split]) for split in SPLITS] == [28709, 3589, 3589]
    # PROVENANCE's per-class counts of the test/ folders, which hold val and test together.
    assert [v + t for v, t in zip(FER2013_COUNTS["val"], FER2013_COUNTS["test"])] == [958, 111, 1024, 1774, 1247,
                                                                                      831, 1233]
    keys = [s.key for s in fer2013_folders]
    assert len(set(keys)) == len(keys) == 35887
    usage = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}
    assert all(s.key.split("/")[1].startswith(usage[s.tags["split"]] + "_") for s in fer2013_folders)


@pytest.mark.parametrize("stem, folders", [("Training_52789098", ("neutral", "surprise")),
                                           ("Training_8475486", ("angry", "surprise"))])
def test_fer2013_name_in_two_class_folders_stays_two_samples(fer2013_folders, stem, folders):
    by_key = {s.key: s for s in fer2013_folders}
    pair = [by_key[f"{folder}/{stem}"] for folder in folders]
    assert pair[0].source != pair[1].source
    assert [FER2013_CLASSES[s.label] for s in pair] == [canonical_name(folder) for folder in folders]


@pytest.mark.parametrize("source", ["fer2013new", "label_csv"])
def test_ferplus_folders_majority_per_split_and_class(ferplus_sets, raw_votes, source):
    samples = ferplus_sets[source]
    assert samples.class_names == FERPLUS_CLASSES
    assert samples.skipped == []
    assert per_split(samples) == tally(raw_votes[source])
    assert per_split(samples) == FERPLUS_COUNTS[source]
    totals = {"fer2013new": [25057, 3199, 3153], "label_csv": [25045, 3191, 3137]}[source]
    assert [sum(FERPLUS_COUNTS[source][split]) for split in SPLITS] == totals
    by_key = {s.key: s.label for s in samples}
    assert len(by_key) == len(samples)
    assert by_key == {name: label for name, (_, v) in raw_votes[source].items() if (label := majority(v)) is not None}


def test_ferplus_duplicated_names_are_read_once_with_the_earlier_row(ferplus_sets, new_rows):
    counts = Counter(row[1][:-4] for row in new_rows if row[1])
    assert sorted(name for name, n in counts.items() if n > 1) == list(DUPLICATED_NAMES)
    for source in ("fer2013new", "label_csv"):
        keys = Counter(s.key for s in ferplus_sets[source])
        assert [keys[name] for name in DUPLICATED_NAMES] == [1, 1, 1, 1]
    rows = {}
    for row in new_rows:
        if row[1][:-4] in DUPLICATED_NAMES:
            rows.setdefault(row[1][:-4], []).append([int(v) for v in row[2:]])
    new_labels = {s.key: s.label for s in ferplus_sets["fer2013new"] if s.key in DUPLICATED_NAMES}
    assert new_labels == {name: majority(pair[0]) for name, pair in rows.items()}
    # Only fer0033120's two rows differ: the later is ten not-a-face votes, the earlier (the one label.csv also
    # carries) makes the face on disk neutral.
    assert [name for name, pair in rows.items() if pair[0] != pair[1]] == ["fer0033120"]
    assert rows["fer0033120"][1] == [0] * 9 + [10]
    assert FERPLUS_CLASSES[new_labels["fer0033120"]] == "neutral"


def test_ferplus_vote_sources_disagree(ferplus_sets, raw_votes, new_rows):
    new, old = raw_votes["fer2013new"], raw_votes["label_csv"]
    differing = Counter(split for name, (split, v) in new.items() if v != old[name][1])
    assert differing == {"train": 1073, "val": 246, "test": 282}  # PROVENANCE's 1,601

    # Majority labels: changed class, labelled only with fer2013new votes, labelled only with label.csv votes.
    new_labels = {s.key: s.label for s in ferplus_sets["fer2013new"]}
    old_labels = {s.key: s.label for s in ferplus_sets["label_csv"]}
    read = (sum(new_labels[k] != old_labels[k] for k in new_labels.keys() & old_labels.keys()),
            len(new_labels.keys() - old_labels.keys()), len(old_labels.keys() - new_labels.keys()))
    outcomes = [(majority(v), majority(old[name][1])) for name, (_, v) in new.items()]
    raw = (sum(a is not None and b is not None and a != b for a, b in outcomes),
           sum(a is not None and b is None for a, b in outcomes), sum(a is None and b is not None for a, b in outcomes))
    assert read == raw == (119, 147, 111)
