import pytest

from pcnn_fer.data.bad_input import DatasetError
from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.protocols import leave_one_subject_out, official_split, random_kfold, subject_kfold


def assert_subject_independent(folds, all_samples):
    seen_in_test = []
    for train, test in folds:
        train_subjects = {s.subject for s in train}
        test_subjects = {s.subject for s in test}
        assert test_subjects and not train_subjects & test_subjects
        assert len(train) + len(test) == len(all_samples)
        seen_in_test.extend(s.key for s in test)
    assert sorted(seen_in_test) == sorted(s.key for s in all_samples)  # every sample tested exactly once


def test_ckplus_last_three_frames_of_labelled_sequences(ckplus_tree):
    s = load_dataset("ckplus", ckplus_tree)
    assert s.class_names == ("anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise")
    keys = {x.key: s.class_names[x.label] for x in s}
    assert keys == {
        "S005_001_00000004": "disgust", "S005_001_00000005": "disgust", "S005_001_00000006": "disgust",
        "S010_002_00000004": "surprise", "S010_002_00000005": "surprise", "S010_002_00000006": "surprise",
        "S010_004_00000003": "anger", "S010_004_00000004": "anger", "S010_004_00000005": "anger",
        "S011_001_00000004": "contempt", "S011_001_00000005": "contempt", "S011_001_00000006": "contempt",
        "S014_003_00000002": "happiness", "S014_003_00000003": "happiness", "S014_003_00000004": "happiness",
    }
    assert {x.subject for x in s} == {"S005", "S010", "S011", "S014"}


def test_ckplus_neutral_onsets_and_class_settings(ckplus_tree):
    labelled = load_dataset("ckplus", ckplus_tree, neutral="labelled")
    assert labelled.class_names[0] == "neutral"
    onsets = [x.key for x in labelled if x.label == 0]
    assert sorted(onsets) == ["S005_001_00000001", "S010_002_00000001", "S010_004_00000001",
                              "S011_001_00000001", "S014_003_00000001"]
    everything = load_dataset("ckplus", ckplus_tree, neutral="all", frames=1)
    assert sum(x.label == 0 for x in everything) == 6 and len(everything) == 11
    six = load_dataset("ckplus", ckplus_tree, contempt=False)
    assert "contempt" not in six.class_names and len(six) == 12


def test_ckplus_bad_emotion_file(ckplus_tree):
    label = next((ckplus_tree / "Emotion" / "S010" / "002").glob("*_emotion.txt"))
    label.write_text("   9.0000000e+00\n")
    with pytest.raises(DatasetError, match=r"S010_002_00000006_emotion\.txt:1: emotion code .* not a whole number"):
        load_dataset("ckplus", ckplus_tree)
    label.write_text("surprise\n")
    s = load_dataset("ckplus", ckplus_tree, skip_bad=True)
    assert len(s) == 12 and "expected one number 0-7" in s.skipped[0]


@pytest.mark.parametrize("text", ["nan", "inf", "-Infinity", "2.5"])
def test_ckplus_non_integer_emotion_codes_follow_the_bad_input_policy(ckplus_tree, text):
    label = next((ckplus_tree / "Emotion" / "S010" / "002").glob("*_emotion.txt"))
    label.write_text(f"   {text}\n")
    with pytest.raises(DatasetError, match=r"emotion\.txt:1: emotion code .* not a whole number in 0-7"):
        load_dataset("ckplus", ckplus_tree)
    s = load_dataset("ckplus", ckplus_tree, skip_bad=True)
    assert len(s) == 12 and len(s.skipped) == 1 and "not a whole number" in s.skipped[0]


def test_ckplus_folds_are_subject_independent(ckplus_tree):
    s = load_dataset("ckplus", ckplus_tree, neutral="all")
    assert_subject_independent(subject_kfold(s, k=4, seed=3), s)
    with pytest.raises(ValueError, match="4 subject"):
        subject_kfold(s, k=10)
    with pytest.raises(ValueError, match="no official split"):
        official_split(s)


def test_jaffe_names_subjects_and_classes(jaffe_tree):
    s = load_dataset("jaffe", jaffe_tree)
    assert len(s) == 90 and len({x.subject for x in s}) == 10
    by_key = {x.key: x for x in s}
    first = by_key["KA.AN1.2"]
    assert first.subject == "KA" and s.class_names[first.label] == "anger"
    assert s.class_counts()["happiness"] == 20


def test_jaffe_leave_one_subject_out_and_random_folds(jaffe_tree):
    s = load_dataset("jaffe", jaffe_tree)
    folds = leave_one_subject_out(s)
    assert len(folds) == 10
    assert_subject_independent(folds, s)
    assert all(len({x.subject for x in test}) == 1 for _, test in folds)
    assert_subject_independent(subject_kfold(s, k=10), s)
    random_folds = random_kfold(s, k=10, seed=1)
    tested = sorted(x.key for _, test in random_folds for x in test)
    assert tested == sorted(x.key for x in s)
    assert {len(test) for _, test in random_folds} == {9}


def test_jaffe_bad_name(jaffe_tree, write_image):
    write_image(jaffe_tree / "KA.XX1.300.tiff")
    write_image(jaffe_tree / "scan 01.tiff")
    with pytest.raises(DatasetError, match=r"KA\.XX1\.300\.tiff: expression code 'XX'"):
        load_dataset("jaffe", jaffe_tree)
    s = load_dataset("jaffe", jaffe_tree, skip_bad=True)
    assert len(s) == 90 and len(s.skipped) == 2
