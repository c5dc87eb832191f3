import numpy as np
import pytest
from PIL import Image

from pcnn_fer.data.checks import unreadable_images
from pcnn_fer.data.sample import Sample, SampleSet


@pytest.fixture
def images(tmp_path):
    """A good PNG, one cut off after its header, a text file posing as a PNG, a missing file, and pixels."""
    good = tmp_path / "good.png"
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(good)
    truncated = tmp_path / "truncated.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    text = tmp_path / "text.png"
    text.write_text("not a picture\n")
    sources = {"good": good, "truncated": truncated, "text": text, "missing": tmp_path / "missing.png",
               "pixels": np.zeros((8, 8, 3), np.uint8)}
    return SampleSet("checked", ("a",), [Sample(source, 0, key) for key, source in sources.items()])


def test_headers_alone_find_missing_and_non_image_files(images):
    found = unreadable_images(images, decode=False, show_progress=False)
    assert list(found) == ["text", "missing"]
    assert all(str(images.samples[i].source) in found[key] for i, key in ((2, "text"), (3, "missing")))


def test_decoding_also_finds_truncated_pixel_data_and_names_the_file(images):
    found = unreadable_images(images, decode=True, show_progress=False)
    assert list(found) == ["truncated", "text", "missing"]
    assert str(images.samples[1].source) in found["truncated"]
