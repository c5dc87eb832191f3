"""A corpus run's folder: its settings kept and checked on resume, finished shards only counted as done."""

from __future__ import annotations

import json

import pytest

from pcnn_fer.atomic import partial_path
from pcnn_fer.cluster.shards import SETTINGS_FILE, SettingsMismatchError, ShardFolder
from pcnn_fer.inference.results import FaceResult
from pcnn_fer.inference.writers import record_file

CLASSES = ("neutral", "happiness")


def _write_shard(path, inputs, fmt):
    with record_file(path, fmt, CLASSES) as sink:
        sink.write([FaceResult.no_face(name) for name in inputs])


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_done_inputs_are_those_of_finished_shards(tmp_path, fmt):
    folder = ShardFolder(tmp_path / "run", fmt)
    folder.claim({"model": None})
    _write_shard(folder.shard("one"), ["a.jpg", "b.jpg"], fmt)
    _write_shard(folder.shard("two"), ["c.jpg"], fmt)
    _write_shard(partial_path(folder.shard("three")), ["d.jpg"], fmt)  # a task cut off while writing
    assert folder.done_inputs() == {"a.jpg", "b.jpg", "c.jpg"}
    assert [path.name for path in folder.shards()] == [f"shard-one.{fmt}", f"shard-two.{fmt}"]


def test_the_settings_are_kept_and_a_resume_with_others_is_refused(tmp_path):
    folder = ShardFolder(tmp_path / "run", "jsonl")
    folder.claim({"model": "m", "every": 1})
    assert json.loads((tmp_path / "run" / SETTINGS_FILE).read_text()) == {"format": "jsonl", "model": "m", "every": 1}
    folder.claim({"model": "m", "every": 1})  # the same settings: a resume
    with pytest.raises(SettingsMismatchError, match="every was 1, now 2"):
        folder.claim({"model": "m", "every": 2})
    with pytest.raises(SettingsMismatchError, match="format was 'jsonl', now 'parquet'"):
        ShardFolder(tmp_path / "run", "parquet").claim({"model": "m", "every": 1})


def test_a_folder_of_other_files_is_not_written_into(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SettingsMismatchError, match="not empty"):
        ShardFolder(tmp_path, "jsonl").claim({})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_an_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="xml"):
        ShardFolder(tmp_path, "xml")
