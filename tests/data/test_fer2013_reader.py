import os
from pathlib import Path

import numpy as np
import pytest

from pcnn_fer.data.bad_input import DatasetError
from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.labels import FER2013_CLASSES

USAGES = ("Training", "Training", "PublicTest", "PrivateTest", "Training")


@pytest.fixture
def fer_csv(tmp_path, write_fer2013, fer_pixels):
    rows = [(i % 7, fer_pixels(i), USAGES[i]) for i in range(5)]
    return write_fer2013(tmp_path / "fer2013.csv", rows)


def test_reads_pixels_labels_and_usage_splits(fer_csv, fer_pixels):
    s = load_dataset("fer2013", fer_csv.parent)
    assert s.class_names == FER2013_CLASSES
    assert [x.label for x in s] == [0, 1, 2, 3, 4]
    assert [x.tags["split"] for x in s] == ["train", "train", "val", "test", "train"]
    for i, sample in enumerate(s):
        assert sample.source.dtype == np.uint8 and sample.source.shape == (48, 48)
        np.testing.assert_array_equal(sample.source, fer_pixels(i))
    assert s.samples[3].key == "row00003"


def test_extreme_pixel_values_and_crlf(tmp_path, write_fer2013):
    pixels = np.zeros((48, 48), dtype=np.uint8)
    pixels[0, :4] = (0, 9, 10, 255)
    pixels[-1, -1] = 100
    path = write_fer2013(tmp_path / "fer2013.csv", [(6, pixels, "Training")], newline="\r\n")
    np.testing.assert_array_equal(load_dataset("fer2013", path).samples[0].source, pixels)


def test_wrong_pixel_count_names_the_line(tmp_path, write_fer2013, fer_pixels):
    short = " ".join(["7"] * 2303)
    rows = [(0, fer_pixels(0), "Training"), (1, short, "Training"), (2, fer_pixels(2), "PublicTest")]
    path = write_fer2013(tmp_path / "fer2013.csv", rows)
    with pytest.raises(DatasetError, match=r"fer2013\.csv:3: 2303 pixel values; expected 2304"):
        load_dataset("fer2013", path)
    s = load_dataset("fer2013", path, skip_bad=True)
    assert [x.key for x in s] == ["row00000", "row00002"]
    np.testing.assert_array_equal(s.samples[1].source, fer_pixels(2))
    assert len(s.skipped) == 1


@pytest.mark.parametrize("bad_row, message", [
    ((7, None, "Training"), "emotion '7' is not in 0-6"),
    ((3, None, "Validation"), "Usage 'Validation'"),
    ((3, "1 2 x", "Training"), "separated by single spaces"),
    ((3, "256 " * 2303 + "1", "Training"), "above 255"),
    ((3, "1  " + "1 " * 2302 + "1", "Training"), "single spaces"),
])
def test_bad_rows(tmp_path, write_fer2013, fer_pixels, bad_row, message):
    emotion, pixels, usage = bad_row
    rows = [(0, fer_pixels(0), "Training"), (emotion, fer_pixels(1) if pixels is None else pixels, usage)]
    path = write_fer2013(tmp_path / "fer2013.csv", rows)
    with pytest.raises(DatasetError, match=message):
        load_dataset("fer2013", path)
    assert len(load_dataset("fer2013", path, skip_bad=True)) == 1


def test_different_columns(tmp_path):
    path = tmp_path / "fer2013.csv"
    path.write_text("label,image\n0,1 2 3\n")
    with pytest.raises(DatasetError, match=r"fer2013\.csv:1: columns \['label', 'image'\]; expected"):
        load_dataset("fer2013", path)


def test_wrong_field_count(tmp_path, write_fer2013, fer_pixels):
    path = write_fer2013(tmp_path / "fer2013.csv", [(0, fer_pixels(0), "Training")])
    path.write_text(path.read_text() + "1,2,3,Training\n")
    with pytest.raises(DatasetError, match=":3: expected 3 comma-separated fields, got 4"):
        load_dataset("fer2013", path)


KAGGLE_FILES = ("train/happy/Training_10.jpg", "train/angry/Training_11.jpg", "test/sad/PublicTest_12.jpg",
                "test/sad/PrivateTest_13.jpg", "test/neutral/PrivateTest_14.jpg")


@pytest.fixture
def kaggle_tree(tmp_path, write_image):
    """Kaggle's FER2013 image folders with one file of each Usage, plus the files that sit beside them."""
    root = tmp_path / "fer2013"
    for seed, name in enumerate(KAGGLE_FILES):
        write_image(root / name, seed, size=48)
    (root / "fer2013_rows.csv").write_text("row,usage\n")
    (root / "train" / "happy" / ".DS_Store").write_bytes(b"\0")
    return root


def test_kaggle_folders_class_from_folder_split_from_prefix(kaggle_tree):
    s = load_dataset("fer2013", kaggle_tree)
    assert s.class_names == FER2013_CLASSES
    got = {x.key: (FER2013_CLASSES[x.label], x.tags["split"], x.tags["usage"]) for x in s}
    assert got == {"happy/Training_10": ("happiness", "train", "Training"),
                   "angry/Training_11": ("anger", "train", "Training"),
                   "sad/PublicTest_12": ("sadness", "val", "PublicTest"),
                   "sad/PrivateTest_13": ("sadness", "test", "PrivateTest"),
                   "neutral/PrivateTest_14": ("neutral", "test", "PrivateTest")}
    assert {x.source for x in s} == {kaggle_tree / name for name in KAGGLE_FILES}
    assert s.skipped == []
    assert len(load_dataset("fer2013", kaggle_tree.parent)) == len(KAGGLE_FILES)  # the parent of fer2013/ too


def test_csv_wins_over_folders(kaggle_tree, write_fer2013, fer_pixels):
    write_fer2013(kaggle_tree / "fer2013.csv", [(3, fer_pixels(0), "Training")])
    assert [x.key for x in load_dataset("fer2013", kaggle_tree)] == ["row00000"]


def test_neither_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither fer2013.csv nor the image folders"):
        load_dataset("fer2013", tmp_path)


@pytest.mark.parametrize("bad, message", [
    ("train/contempt/Training_20.jpg", r"train/contempt: class folder 'contempt' is not one of FER2013's classes"),
    ("train/happy/PublicTest_20.jpg", r"PublicTest_20\.jpg: file name starts with 'PublicTest', not with Training_"),
    ("test/sad/Validation_20.jpg", r"Validation_20\.jpg: file name starts with 'Validation', not with PublicTest_ or"),
    ("test/sad/PublicTest_20.txt", r"PublicTest_20\.txt: not an image file"),
    ("train/happy/Training_10.png", r"Training_10\.png: same name as .*Training_10\.jpg apart from the suffix"),
    ("train/notes.txt", r"train/notes\.txt: not a class folder"),
    ("train/happy/more/Training_20.jpg", r"train/happy/more: not an image file"),
])
def test_kaggle_bad_entries(kaggle_tree, bad, message):
    (kaggle_tree / bad).parent.mkdir(parents=True, exist_ok=True)
    (kaggle_tree / bad).write_bytes(b"listed, never decoded")
    with pytest.raises(DatasetError, match=message):
        load_dataset("fer2013", kaggle_tree)
    s = load_dataset("fer2013", kaggle_tree, skip_bad=True)
    assert len(s) == len(KAGGLE_FILES)
    assert len(s.skipped) == 1 and str(kaggle_tree / Path(bad).parent) in s.skipped[0]


def test_kaggle_unlistable_folder(kaggle_tree, monkeypatch):
    real_scandir = os.scandir
    locked = kaggle_tree / "test" / "sad"

    def scandir(path):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(DatasetError, match=r"test/sad: cannot list the folder: Permission denied"):
        load_dataset("fer2013", kaggle_tree)
    s = load_dataset("fer2013", kaggle_tree, skip_bad=True)
    assert sorted(x.key for x in s) == ["angry/Training_11", "happy/Training_10", "neutral/PrivateTest_14"]
    assert len(s.skipped) == 1


def test_kaggle_name_in_two_class_folders_gets_two_keys(tmp_path, write_image):
    write_image(tmp_path / "train" / "neutral" / "Training_52789098.jpg", 1, size=48)
    write_image(tmp_path / "train" / "surprise" / "Training_52789098.jpg", 2, size=48)
    s = load_dataset("fer2013", tmp_path)
    assert {x.key: FER2013_CLASSES[x.label] for x in s} == {"neutral/Training_52789098": "neutral",
                                                          "surprise/Training_52789098": "surprise"}
