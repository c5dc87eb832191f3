import numpy as np
import pytest
import torch

from pcnn_fer.data.bad_input import DatasetError
from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.labels import AFFECTNET_CLASSES, RAFDB_CLASSES
from pcnn_fer.data.mixing import draw_weights

CSV_HEADER = ("subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,"
              "arousal")


@pytest.fixture
def affectnet_folders(tmp_path, write_image):
    codes = {"train_set": [0, 1, 1, 1, 7, 8, 10], "val_set": [0, 1, 6]}
    for folder, values in codes.items():
        for number, code in enumerate(values):
            write_image(tmp_path / folder / "images" / f"{number}.jpg", number)
            (tmp_path / folder / "annotations").mkdir(parents=True, exist_ok=True)
            np.save(tmp_path / folder / "annotations" / f"{number}_exp.npy", np.array(str(code)))
            np.save(tmp_path / folder / "annotations" / f"{number}_val.npy", np.array("0.1"))
    return tmp_path


def test_affectnet_folder_release(affectnet_folders):
    s = load_dataset("affectnet", affectnet_folders)
    assert s.class_names == AFFECTNET_CLASSES
    assert len(s.where(split="train")) == 5 and len(s.where(split="test")) == 3  # codes 8 and 10 left out
    assert {x.key: x.label for x in s}["train_set/4"] == 7
    seven = load_dataset("affectnet", affectnet_folders, contempt=False)
    assert len(seven.class_names) == 7 and len(seven) == 7


def test_affectnet_label_file_problems(affectnet_folders):
    (affectnet_folders / "train_set" / "annotations" / "2_exp.npy").unlink()
    np.save(affectnet_folders / "train_set" / "annotations" / "3_exp.npy", np.array(["1", "2"]))
    with pytest.raises(DatasetError, match=r"2_exp\.npy: missing"):
        load_dataset("affectnet", affectnet_folders)
    s = load_dataset("affectnet", affectnet_folders, skip_bad=True)
    assert len(s.skipped) == 2 and any("shape (2,)" in m for m in s.skipped)


def test_affectnet_refuses_pickled_labels(affectnet_folders):
    np.save(affectnet_folders / "val_set" / "annotations" / "0_exp.npy", np.array([{"x": 1}], dtype=object))
    with pytest.raises(DatasetError, match="not a plain .npy array"):
        load_dataset("affectnet", affectnet_folders)


def test_affectnet_csv_release(tmp_path, write_image):
    images = tmp_path / "Manually_Annotated_Images"
    rows = {"training.csv": [("689/aaa.jpg", 1), ("689/bbb.jpg", 9), ("12/ccc.png", 3)],
            "validation.csv": [("5/ddd.jpg", 6)]}
    for file_name, entries in rows.items():
        lines = [CSV_HEADER]
        for seed, (path, code) in enumerate(entries):
            write_image(images / path, seed)
            lines.append(f'{path},10,12,100,110,"1.0;2.0;3.0;4.0",{code},0.5,-0.2')
        (tmp_path / file_name).write_text("\n".join(lines) + "\n")
    s = load_dataset("affectnet", tmp_path)
    assert [(x.key, x.label, x.tags["split"]) for x in s] == [("689/aaa.jpg", 1, "train"), ("12/ccc.png", 3, "train"),
                                                           ("5/ddd.jpg", 6, "test")]
    assert s.samples[0].tags["face_box"] == "10,12,100,110"
    (tmp_path / "validation.csv").write_text("subDirectory_filePath,expression\n")
    with pytest.raises(DatasetError, match=r"validation\.csv:1: columns"):
        load_dataset("affectnet", tmp_path)


def test_balanced_draws_even_out_classes(affectnet_folders):
    s = load_dataset("affectnet", affectnet_folders).where(split="train")
    weights = torch.from_numpy(draw_weights(s, balanced=True))
    picks = torch.multinomial(weights, 6000, replacement=True, generator=torch.Generator().manual_seed(0))
    drawn = np.bincount([s.samples[i].label for i in picks], minlength=8)
    present = drawn[[0, 1, 7]]
    assert present.min() > 1700 and drawn.sum() == 6000  # three classes, about 2000 each despite 1:3:1


def test_folder_reader_with_splits_and_spellings(tmp_path, write_image):
    for split, cls, n in [("train", "Happy", 2), ("train", "angry", 1), ("test", "Happy", 1), ("test", "neutral", 1)]:
        for i in range(n):
            write_image(tmp_path / split / cls / f"{i}.jpg", i)
    (tmp_path / "train" / "angry" / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"notes\.txt: not an image file"):
        load_dataset("folder", tmp_path)
    s = load_dataset("folder", tmp_path, skip_bad=True)
    assert s.class_names == ("neutral", "happiness", "anger")
    assert s.class_counts() == {"neutral": 1, "happiness": 3, "anger": 1}
    assert len(s.where(split="train")) == 3 and len(s.skipped) == 1


def test_folder_reader_numbered_folders(tmp_path, write_image):
    for folder in ("1", "4", "7"):
        write_image(tmp_path / folder / "a.png")
    with pytest.raises(ValueError, match="need a class order"):
        load_dataset("folder", tmp_path)
    with pytest.raises(ValueError, match="folder number 7 is outside"):
        load_dataset("folder", tmp_path, classes="rafdb")
    s = load_dataset("folder", tmp_path, classes="rafdb", one_based=True)
    assert s.class_names == RAFDB_CLASSES
    assert sorted(RAFDB_CLASSES[x.label] for x in s) == ["happiness", "neutral", "surprise"]


def test_folder_reader_own_classes(tmp_path, write_image):
    for folder in ("pain", "boredom"):
        write_image(tmp_path / folder / "a.png")
    assert load_dataset("folder", tmp_path).class_names == ("boredom", "pain")
