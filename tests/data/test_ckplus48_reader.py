"""The CK+48 reader: faces labelled by folder, subjects and sequences from their names, folds by subject."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pcnn_fer.data.bad_input import DatasetError
from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.protocols import subject_kfold

REAL_COUNTS = {"anger": 135, "contempt": 54, "disgust": 177, "fear": 75, "happiness": 207, "sadness": 84,
               "surprise": 249}


def _face(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((48, 48), 100, dtype=np.uint8)).save(path)


@pytest.fixture
def tiny_ckplus48(tmp_path: Path) -> Path:
    root = tmp_path / "CK+48"
    for folder, subject, sequence in (("happy", "S010", "006"), ("anger", "S011", "004"), ("contempt", "S012", "002")):
        for frame in (17, 18, 19):
            _face(root / folder / f"{subject}_{sequence}_{frame:08d}.png")
    return tmp_path


def test_faces_get_their_folders_class_subject_and_sequence(tiny_ckplus48):
    samples = load_dataset("ckplus48", tiny_ckplus48)  # the folder holding CK+48/ is found too
    assert samples.class_names == ("anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise")
    happy = [s for s in samples if s.key.startswith("happy/")]
    assert len(happy) == 3 and {s.label for s in happy} == {4} and {s.subject for s in happy} == {"S010"}
    assert happy[0].tags == {"sequence": "S010_006"} and "split" not in happy[0].tags


def test_contempt_can_be_left_out(tiny_ckplus48):
    samples = load_dataset("ckplus48", tiny_ckplus48 / "CK+48", contempt=False)
    assert "contempt" not in samples.class_names and len(samples) == 6


def test_stray_folders_and_misnamed_files_are_errors_unless_skipped(tiny_ckplus48):
    _face(tiny_ckplus48 / "CK+48" / "neutral" / "S013_001_00000001.png")
    with pytest.raises(DatasetError, match="neutral: not one of CK\\+48's class folders"):
        load_dataset("ckplus48", tiny_ckplus48)
    _face(tiny_ckplus48 / "CK+48" / "happy" / "face.png")
    with pytest.raises(DatasetError, match="face.png: expected a face named"):
        load_dataset("ckplus48", tiny_ckplus48)
    kept = load_dataset("ckplus48", tiny_ckplus48, skip_bad=True)
    assert len(kept) == 9 and len(kept.skipped) == 2


def test_a_folder_without_faces_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no CK\\+48 faces"):
        load_dataset("ckplus48", tmp_path)


def test_the_real_folder_counts_and_folds_by_subject(shared_data: Path):
    samples = load_dataset("ckplus48", shared_data / "ckplus48")
    assert samples.class_counts() == REAL_COUNTS
    assert len({s.tags["sequence"] for s in samples}) == 327
    assert len({s.subject for s in samples}) == 118
    seen: dict[str, int] = {}
    for number, (train, test) in enumerate(subject_kfold(samples, k=10), start=1):
        for sample in test:
            assert seen.setdefault(sample.subject, number) == number  # a subject lies in one test fold only
        assert not {s.subject for s in train} & {s.subject for s in test}
    assert len(seen) == 118


def test_a_fixed_split_by_subject_on_request(tiny_ckplus48):
    samples = load_dataset("ckplus48", tiny_ckplus48, val_subjects=0.3, test_subjects=0.3)
    split_of = {s.subject: s.tags["split"] for s in samples}
    assert sorted(split_of.values()) == ["test", "train", "val"]  # three subjects, one per part
    assert all(s.tags["split"] == split_of[s.subject] for s in samples)  # every frame of a subject together
    again = load_dataset("ckplus48", tiny_ckplus48, val_subjects=0.3, test_subjects=0.3)
    assert [s.tags for s in again] == [s.tags for s in samples]
    with pytest.raises(ValueError, match="must be >= 0 and sum below 1"):
        load_dataset("ckplus48", tiny_ckplus48, val_subjects=0.5, test_subjects=0.5)


def test_the_real_folders_held_out_subjects(shared_data: Path):
    samples = load_dataset("ckplus48", shared_data / "ckplus48", val_subjects=0.1, test_subjects=0.2)
    parts = {name: [s for s in samples if s.tags["split"] == name] for name in ("train", "val", "test")}
    assert {name: len(part) for name, part in parts.items()} == {"train": 675, "val": 105, "test": 201}
    subjects = {name: {s.subject for s in part} for name, part in parts.items()}
    assert not subjects["train"] & subjects["test"] and not subjects["val"] & (subjects["train"] | subjects["test"])
    assert len(subjects["test"]) == 21 and set(parts["test"][0].tags) == {"sequence", "split"}
