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
