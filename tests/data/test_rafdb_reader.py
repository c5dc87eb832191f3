import pytest

from pcnn_fer.data.bad_input import DatasetError
from pcnn_fer.data.datasets import DATASET_NAMES, load_dataset, reader_options
from pcnn_fer.data.labels import RAFDB_CLASSES


def test_reads_labels_splits_and_aligned_images(rafdb_tree):
    s = load_dataset("rafdb", rafdb_tree)
    assert s.class_names == RAFDB_CLASSES
    assert len(s) == 10
    assert len(s.where(split="train")) == 6 and len(s.where(split="test")) == 4
    by_key = {x.key: x for x in s}
    assert by_key["train_00001"].label == 0  # file label 1 = surprise
    assert by_key["train_00003"].label == 6  # file label 7 = neutral
    assert s.class_names[by_key["test_0003"].label] == "happiness"  # file label 4
    assert by_key["test_0003"].source.name == "test_0003_aligned.jpg"
    assert s.skipped == []


def test_original_images_and_parent_folder(rafdb_tree):
    s = load_dataset("rafdb", rafdb_tree.parent, images="original")
    assert {x.source.name for x in s} >= {"train_00001.jpg", "test_0004.jpg"}


def test_zero_based_label_is_rejected_with_file_and_line(rafdb_tree):
    label_file = rafdb_tree / "EmoLabel" / "list_patition_label.txt"
    lines = label_file.read_text().splitlines()
    lines[2] = "train_00003.jpg 0"
    label_file.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"list_patition_label\.txt:3: label '0' is not in 1-7"):
        load_dataset("rafdb", rafdb_tree)
    s = load_dataset("rafdb", rafdb_tree, skip_bad=True)
    assert len(s) == 9 and len(s.skipped) == 1 and ":3:" in s.skipped[0]


def test_malformed_line_and_missing_image(rafdb_tree):
    label_file = rafdb_tree / "EmoLabel" / "list_patition_label.txt"
    label_file.write_text(label_file.read_text() + "train_00007.jpg\nval_0001.jpg 3\ntest_0009.jpg 2\n")
    with pytest.raises(DatasetError, match=":11: expected"):
        load_dataset("rafdb", rafdb_tree)
    s = load_dataset("rafdb", rafdb_tree, skip_bad=True)
    assert len(s) == 10 and len(s.skipped) == 3
    assert any("test_0009_aligned.jpg" in m and "missing" in m for m in s.skipped)
    assert any("neither train_ nor test_" in m for m in s.skipped)


def test_unknown_option_and_missing_label_file(rafdb_tree, tmp_path):
    with pytest.raises(ValueError, match="no option"):
        load_dataset("rafdb", rafdb_tree, mode="x")
    with pytest.raises(FileNotFoundError, match="list_patition_label"):
        load_dataset("rafdb", tmp_path / "nowhere")


def test_registry_names():
    assert set(DATASET_NAMES) == {"rafdb", "fer2013", "ferplus", "ckplus", "jaffe", "affectnet", "folder",
                                 "ckplus48"}
    assert reader_options("ferplus") == {"mode": "majority", "contempt": True, "fer2013_csv": None, "votes": "auto"}
    with pytest.raises(ValueError, match="unknown dataset 'sfew'"):
        load_dataset("sfew", ".")
