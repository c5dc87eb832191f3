import io
import os
import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from pcnn_fer.data.cache import DecodedCache, StaleCacheError
from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.images import ImageError, load_image
from pcnn_fer.data.preprocessing import Preprocessing
from pcnn_fer.data.sample import Sample, SampleSet
from pcnn_fer.data.torch_dataset import FERDataset
from pcnn_fer.data.transforms import eval_transform


def test_cache_holds_the_decoded_pixels(rafdb_tree, tmp_path):
    s = load_dataset("rafdb", rafdb_tree)
    cache = DecodedCache.build(s, tmp_path / "cache", progress=False)
    assert len(cache) == 10
    for sample in s:
        np.testing.assert_array_equal(cache.image(sample.key), load_image(sample.source))
    reopened = DecodedCache.ensure(s, tmp_path / "cache")
    assert not reopened.image("test_0001").flags.writeable


def test_cache_resizes_and_holds_arrays(tmp_path, write_fer2013, fer_pixels):
    path = write_fer2013(tmp_path / "fer2013.csv", [(0, fer_pixels(0), "Training"), (1, fer_pixels(1), "Training")])
    s = load_dataset("fer2013", path)
    cache = DecodedCache.build(s, tmp_path / "cache", size=24, progress=False)
    assert cache.image("row00001").shape == (24, 24, 3)
    with pytest.raises(StaleCacheError, match="size"):
        cache.check(s, size=None)


def test_cache_goes_stale_when_a_source_changes(rafdb_tree, tmp_path, write_image):
    s = load_dataset("rafdb", rafdb_tree)
    DecodedCache.build(s, tmp_path / "cache", progress=False)
    changed = s.samples[3].source
    write_image(changed, seed=99, size=20)
    stat = changed.stat()
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(StaleCacheError, match="changed since it was cached"):
        DecodedCache(tmp_path / "cache").check(s)
    rebuilt = DecodedCache.ensure(s, tmp_path / "cache", progress=False)
    assert rebuilt.image(s.samples[3].key).shape == (20, 20, 3)


def test_cache_with_bad_image(rafdb_tree, tmp_path):
    s = load_dataset("rafdb", rafdb_tree)
    s.samples[0].source.write_bytes(b"")
    with pytest.raises(ImageError, match="0 bytes"):
        DecodedCache.build(s, tmp_path / "cache", progress=False)
    cache = DecodedCache.build(s, tmp_path / "cache", skip_bad=True, progress=False)
    assert len(cache) == 9 and list(cache.skipped) == ["train_00001"]
    with pytest.raises(KeyError, match="0 bytes"):
        cache.image("train_00001")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("terminal", [False, True])
def test_building_shows_a_bar_only_on_a_terminal(rafdb_tree, tmp_path, monkeypatch, terminal):
    stderr = Terminal() if terminal else io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    DecodedCache.build(load_dataset("rafdb", rafdb_tree), tmp_path / "cache")
    assert ("caching rafdb" in stderr.getvalue()) is terminal


def test_dataset_from_cache_equals_decoding_and_survives_workers(rafdb_tree, tmp_path):
    s = load_dataset("rafdb", rafdb_tree)
    cache = DecodedCache.build(s, tmp_path / "cache", progress=False)
    direct = FERDataset(s, eval_transform(Preprocessing(32)))
    cached = FERDataset(s, eval_transform(Preprocessing(32)), cache=pickle.loads(pickle.dumps(cache)))
    image, target = cached[2]
    assert target.dtype == torch.int64 and target.ndim == 0 and int(target) == s.samples[2].label
    torch.testing.assert_close(image, direct[2][0])
    images, targets = next(iter(DataLoader(cached, batch_size=10, num_workers=1)))
    assert images.shape == (10, 3, 32, 32) and targets.tolist() == [x.label for x in s]


def test_soft_targets_are_float_vectors(fer_pixels):
    s = SampleSet("soft", ("a", "b", "c"), [Sample(fer_pixels(0), (0.25, 0.75, 0.0), "k")])
    image, target = FERDataset(s, eval_transform(Preprocessing(16)))[0]
    assert image.shape == (3, 16, 16)
    assert target.dtype == torch.float32 and target.tolist() == [0.25, 0.75, 0.0]


def test_a_cache_resized_to_the_input_size_gives_the_very_tensors_of_decoding(rafdb_tree, tmp_path):
    s = load_dataset("rafdb", rafdb_tree)
    cache = DecodedCache.build(s, tmp_path / "cache", size=24, progress=False)
    assert {cache.image(sample.key).shape for sample in s} == {(24, 24, 3)}
    assert {load_image(sample.source).shape[:2] for sample in s} != {(24, 24)}  # the cache did resize
    direct = FERDataset(s, eval_transform(Preprocessing(24)))
    cached = FERDataset(s, eval_transform(Preprocessing(24)), cache=cache)
    for index in range(len(s)):
        torch.testing.assert_close(cached[index][0], direct[index][0], atol=0, rtol=0)
