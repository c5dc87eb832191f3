import numpy as np
import pytest
from PIL import Image

from pcnn_fer.data.bad_input import DatasetError
from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.datasets.ferplus import votes_to_distribution
from pcnn_fer.data.labels import FERPLUS_CLASSES

HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"


def votes(*counts):
    return np.array(counts + (0,) * (10 - len(counts)), dtype=np.int64)


# Columns: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
@pytest.mark.parametrize("mode, row, expected", [(("majority",) + case) for case in [
    (votes(0, 10), 1),  # unanimous happiness
    (votes(4, 5, 1), 1),  # the single surprise vote is dropped: 5 of 9 is a majority (5 of 10 would not be)
    (votes(5, 5), None),  # tie: neither has more than half
    (votes(3, 3, 2, 2), None),  # no majority
    (votes(6, 2, 0, 0, 0, 0, 0, 0, 2), 0),  # 6 of 10 with unknown votes counted in the total
    (votes(0, 0, 0, 0, 0, 0, 0, 0, 0, 10), None),  # not a face
    (votes(2, 0, 0, 0, 0, 0, 0, 0, 8), None),  # unknown wins
    (votes(1, 1, 1, 1, 1, 1, 1, 1, 1, 1), None),  # every vote is a single vote
    (votes(0, 0, 0, 0, 0, 0, 0, 7, 3), 7),  # contempt
]] + [(("argmax",) + case) for case in [
    (votes(4, 3, 3), 0),  # no majority, but neutral has the most votes
    (votes(1, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0),  # a single vote is enough: nothing is dropped
    (votes(3, 3, 4), 2),
    (votes(3, 3), 0),  # a tie goes to the first column
    (votes(2, 0, 0, 0, 0, 0, 0, 0, 5), None),  # unknown has the most votes
    (votes(), None),
]])
def test_single_label_rules(mode, row, expected):
    result = votes_to_distribution(row, mode)
    if expected is None:
        assert result is None
    else:
        np.testing.assert_array_equal(result, np.eye(8)[expected])


@pytest.mark.parametrize("row, expected", [
    (votes(6, 4), [0.6, 0.4]),
    (votes(4, 4, 2), [0.5, 0.5]),  # tied leaders are taken together and reach 75 %
    (votes(3, 3, 3, 1), [1 / 3, 1 / 3, 1 / 3]),
    (votes(6, 0, 0, 0, 0, 0, 0, 0, 4), [1.0]),  # unknown after an emotion: dropped, the emotion kept
    (votes(5, 0, 0, 0, 0, 0, 0, 0, 5), None),  # unknown ties the top: what remains is not over half
    (votes(3, 3, 2, 2), None),  # four columns needed: too many emotions
])
def test_probability_rule(row, expected):
    for mode in ("probability", "crossentropy"):
        result = votes_to_distribution(row, mode)
        if expected is None:
            assert result is None
        else:
            np.testing.assert_allclose(result, np.pad(expected, (0, 8 - len(expected))))


def test_multi_target_rule():
    np.testing.assert_allclose(votes_to_distribution(votes(5, 3, 2), "multi_target"), [5 / 8, 3 / 8, 0, 0, 0, 0, 0, 0])
    assert votes_to_distribution(votes(4, 2, 2, 2), "multi_target") is None
    with pytest.raises(ValueError, match="label mode"):
        votes_to_distribution(votes(4), "vote")


@pytest.fixture
def ferplus_csv_pair(tmp_path, write_fer2013, fer_pixels):
    """fer2013.csv of 6 rows; fer2013new.csv names only rows 0, 1, 3, 4, counting named rows only."""
    usages = ["Training", "Training", "Training", "PublicTest", "PrivateTest", "PrivateTest"]
    write_fer2013(tmp_path / "fer2013.csv", [(i % 7, fer_pixels(i), u) for i, u in enumerate(usages)])
    vote_rows = ["0,10,0,0,0,0,0,0,0,0", "9,0,0,0,0,0,0,1,0,0", "10,0,0,0,0,0,0,0,0,0", "0,0,8,0,0,0,0,0,2,0",
                 "0,0,0,0,0,0,0,6,4,0", "0,0,0,0,0,0,0,0,0,10"]
    names = ["fer0000000.png", "fer0000001.png", "", "fer0000002.png", "fer0000003.png", ""]
    lines = [HEADER] + [f"{u},{n},{v}" for u, n, v in zip(usages, names, vote_rows)]
    (tmp_path / "fer2013new.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_csv_join_is_by_row_position_not_by_name(ferplus_csv_pair, fer_pixels):
    s = load_dataset("ferplus", ferplus_csv_pair)
    assert s.class_names == FERPLUS_CLASSES
    by_key = {x.key: x for x in s}
    assert sorted(by_key) == ["fer0000000", "fer0000001", "fer0000002", "fer0000003"]
    # fer0000002 is the 4th row (row 2 has no name): its pixels are fer2013.csv row 3's, not row 2's.
    np.testing.assert_array_equal(by_key["fer0000002"].source, fer_pixels(3))
    np.testing.assert_array_equal(by_key["fer0000003"].source, fer_pixels(4))
    assert by_key["fer0000002"].label == FERPLUS_CLASSES.index("surprise")
    assert by_key["fer0000003"].label == FERPLUS_CLASSES.index("contempt")
    assert [by_key[k].tags["split"] for k in sorted(by_key)] == ["train", "train", "val", "test"]


def test_seven_classes_and_soft_modes(ferplus_csv_pair):
    seven = load_dataset("ferplus", ferplus_csv_pair, contempt=False)
    assert seven.class_names == FERPLUS_CLASSES[:7]
    assert "fer0000003" not in {x.key for x in seven}  # contempt has no class here
    soft = load_dataset("ferplus", ferplus_csv_pair, mode="probability")
    label = {x.key: x.label for x in soft}["fer0000001"]
    assert isinstance(label, tuple) and len(label) == 8
    np.testing.assert_allclose(label, np.eye(8)[0])  # the single contempt vote is dropped as an outlier


def test_row_misalignment_is_detected(ferplus_csv_pair):
    votes_file = ferplus_csv_pair / "fer2013new.csv"
    lines = votes_file.read_text().splitlines()
    votes_file.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(DatasetError, match="5 rows but .*fer2013.csv has 6"):
        load_dataset("ferplus", ferplus_csv_pair)
    lines[4] = lines[4].replace("PublicTest", "PrivateTest")
    votes_file.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"fer2013new\.csv:5: Usage PrivateTest but .*PublicTest"):
        load_dataset("ferplus", ferplus_csv_pair)


def test_bad_vote_row(ferplus_csv_pair):
    votes_file = ferplus_csv_pair / "fer2013new.csv"
    lines = votes_file.read_text().splitlines()
    lines[2] = "Training,fer0000001.png,9,0,0,x,0,0,0,1,0,0"
    votes_file.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"fer2013new\.csv:3: expected 10 non-negative vote counts"):
        load_dataset("ferplus", ferplus_csv_pair)
    assert len(load_dataset("ferplus", ferplus_csv_pair, skip_bad=True).skipped) == 1


def test_image_folders_layout(tmp_path):
    rows = {"FER2013Train": ['fer0000000.png,"(0, 0, 48, 48)",0,10,0,0,0,0,0,0,0,0',
                             "fer0000001.png,(0, 0, 48, 48),0,0,0,9,0,0,1,0,0,0"],
            "FER2013Valid": ['fer0028638.png,"(0, 0, 48, 48)",5,5,0,0,0,0,0,0,0,0'],
            "FER2013Test": ['fer0032220.png,"(0, 0, 48, 48)",0,0,0,0,7,3,0,0,0,0']}
    for folder, lines in rows.items():
        (tmp_path / "data" / folder).mkdir(parents=True)
        (tmp_path / "data" / folder / "label.csv").write_text("\n".join(lines) + "\n")
        for line in lines:
            Image.new("L", (48, 48), 100).save(tmp_path / "data" / folder / line.split(",")[0])
    s = load_dataset("ferplus", tmp_path)
    labels = {x.key: (FERPLUS_CLASSES[x.label], x.tags["split"]) for x in s}
    assert labels == {"fer0000000": ("happiness", "train"), "fer0000001": ("sadness", "train"),
                      "fer0032220": ("anger", "test")}  # the valid image is a 5/5 tie: no majority
    (tmp_path / "data" / "FER2013Test" / "fer0032220.png").unlink()
    with pytest.raises(DatasetError, match=r"fer0032220\.png: image listed at label\.csv:1 is missing"):
        load_dataset("ferplus", tmp_path)


HAPPY, SAD, ANGRY, SURPRISED, NEUTRAL = ("0,10,0,0,0,0,0,0,0,0", "0,0,0,10,0,0,0,0,0,0", "0,0,0,0,10,0,0,0,0,0",
                                         "0,0,10,0,0,0,0,0,0,0", "10,0,0,0,0,0,0,0,0,0")


@pytest.fixture
def folders_with_new_votes(tmp_path):
    """Image folders whose label.csv votes differ from fer2013new.csv beside them; fer0000001 has two CSV rows."""
    data = tmp_path / "data"
    listed = {"FER2013Train": [("fer0000000.png", HAPPY), ("fer0000001.png", HAPPY)],
              "FER2013Valid": [("fer0000002.png", SURPRISED)],
              "FER2013Test": [("fer0000003.png", ANGRY)]}
    for folder, rows in listed.items():
        (data / folder).mkdir(parents=True)
        (data / folder / "label.csv").write_text("".join(f'{name},"(0, 0, 48, 48)",{v}\n' for name, v in rows))
        for name, _ in rows:
            Image.new("L", (48, 48), 100).save(data / folder / name)
    new_rows = [("Training", "fer0000000.png", SAD), ("Training", "fer0000001.png", HAPPY), ("Training", "", HAPPY),
                ("PublicTest", "fer0000002.png", NEUTRAL), ("PrivateTest", "fer0000003.png", ANGRY),
                ("Training", "fer0000001.png", ANGRY)]
    (data / "fer2013new.csv").write_text("\n".join([HEADER] + [",".join(r) for r in new_rows]) + "\n")
    return tmp_path


def labels_of(samples):
    return {x.key: (FERPLUS_CLASSES[x.label], x.tags["split"]) for x in samples}


def test_folders_take_fer2013new_votes_by_default(folders_with_new_votes):
    expected = {"fer0000000": ("sadness", "train"), "fer0000001": ("happiness", "train"),  # the earlier row wins
                "fer0000002": ("neutral", "val"), "fer0000003": ("anger", "test")}
    assert labels_of(load_dataset("ferplus", folders_with_new_votes)) == expected
    assert labels_of(load_dataset("ferplus", folders_with_new_votes, votes="fer2013new")) == expected


def test_folders_own_label_csv_votes(folders_with_new_votes):
    assert labels_of(load_dataset("ferplus", folders_with_new_votes, votes="label_csv")) == {
        "fer0000000": ("happiness", "train"), "fer0000001": ("happiness", "train"),
        "fer0000002": ("surprise", "val"), "fer0000003": ("anger", "test")}
    (folders_with_new_votes / "data" / "fer2013new.csv").unlink()
    assert labels_of(load_dataset("ferplus", folders_with_new_votes))["fer0000000"] == ("happiness", "train")
    with pytest.raises(FileNotFoundError, match="votes=fer2013new needs fer2013new.csv"):
        load_dataset("ferplus", folders_with_new_votes, votes="fer2013new")


@pytest.mark.parametrize("old, new, message", [
    ("fer0000002.png", "fer0000009.png", r"label\.csv:1: fer0000009\.png has no row in fer2013new\.csv"),
    ("PublicTest,fer0000002", "PrivateTest,fer0000002",
     r"label\.csv:1: fer0000002\.png is in FER2013Valid but fer2013new\.csv says PrivateTest"),
])
def test_folder_image_without_its_vote_row(folders_with_new_votes, old, new, message):
    data = folders_with_new_votes / "data"
    if old.endswith(".png"):  # the image and its label.csv line renamed: a name fer2013new.csv does not know
        (data / "FER2013Valid" / old).rename(data / "FER2013Valid" / new)
    path = data / ("FER2013Valid/label.csv" if old.endswith(".png") else "fer2013new.csv")
    path.write_text(path.read_text().replace(old, new))
    with pytest.raises(DatasetError, match=message):
        load_dataset("ferplus", folders_with_new_votes)
    s = load_dataset("ferplus", folders_with_new_votes, skip_bad=True)
    assert sorted(x.key for x in s) == ["fer0000000", "fer0000001", "fer0000003"]
    assert len(s.skipped) == 1


def test_unknown_vote_source(folders_with_new_votes):
    with pytest.raises(ValueError, match="FERPlus votes 'bogus'; expected one of"):
        load_dataset("ferplus", folders_with_new_votes, votes="bogus")
