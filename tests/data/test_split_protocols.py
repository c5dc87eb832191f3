import numpy as np
import pytest

from pcnn_fer.data.protocols import holdout, official_split, random_kfold, subject_kfold, subject_split
from pcnn_fer.data.sample import Sample, SampleSet


def synthetic(n_subjects=12, per_subject=5, classes=4, splits=False):
    samples = []
    for subject in range(n_subjects):
        for i in range(per_subject):
            tags = {"split": ("train", "val", "test")[(subject + i) % 3]} if splits else {}
            samples.append(Sample(f"/x/{subject}_{i}.jpg", (subject + i) % classes, f"{subject}_{i}", f"S{subject}",
                                  tags))
    return SampleSet("synthetic", tuple(f"c{i}" for i in range(classes)), samples)


def test_official_split_groups_by_tag():
    parts = official_split(synthetic(splits=True))
    assert list(parts) == ["train", "val", "test"] and sum(len(p) for p in parts.values()) == 60


def test_holdout_is_stratified_and_deterministic():
    s = synthetic()
    train, val = holdout(s, fraction=0.2, seed=5)
    assert len(val) == 12 and len(train) == 48
    assert set(val.class_counts().values()) == {3}  # 20 % of each class of 15
    assert [x.key for x in holdout(s, fraction=0.2, seed=5)[1]] == [x.key for x in val]
    assert [x.key for x in holdout(s, fraction=0.2, seed=6)[1]] != [x.key for x in val]
    assert not {x.key for x in train} & {x.key for x in val}


def test_holdout_by_subject_keeps_subjects_whole():
    train, val = holdout(synthetic(), fraction=0.25, by_subject=True)
    assert not {x.subject for x in train} & {x.subject for x in val}
    assert len(val) == 15
    with pytest.raises(ValueError, match="fraction"):
        holdout(synthetic(), fraction=1.0)


def test_subject_kfold_balances_fold_sizes():
    folds = subject_kfold(synthetic(n_subjects=20), k=10)
    assert [len(test) for _, test in folds] == [10] * 10


def test_random_kfold_stratified_partition():
    s = synthetic()
    folds = random_kfold(s, k=5, seed=2)
    counts = np.array([[x.label for x in test].count(c) for _, test in folds for c in range(4)]).reshape(5, 4)
    assert counts.sum() == 60 and counts.max() - counts.min() <= 1
    with pytest.raises(ValueError, match="cannot fill"):
        random_kfold(synthetic(n_subjects=1, per_subject=3), k=5)


def test_subject_protocols_need_subject_ids():
    s = SampleSet("x", ("a",), [Sample("/a.jpg", 0, "a")])
    with pytest.raises(ValueError, match="no subject id"):
        subject_kfold(s, k=1)


def test_subject_split_tags_whole_subjects_in_about_the_asked_shares():
    s = subject_split(synthetic(n_subjects=20), val=0.1, test=0.2, seed=0)
    split_of: dict[str, set] = {}
    for sample in s:
        split_of.setdefault(sample.subject, set()).add(sample.tags["split"])
    assert all(len(parts) == 1 for parts in split_of.values())
    counts = {name: sum(x.tags["split"] == name for x in s) for name in ("train", "val", "test")}
    assert counts == {"train": 70, "val": 10, "test": 20}
    assert subject_split(synthetic(), val=0.0, test=0.0).samples[0].tags["split"] == "train"
