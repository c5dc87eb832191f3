"""The driver's bookkeeping before any Ray starts: what a run run again skips, and which settings must match."""

from __future__ import annotations

import pytest

from pcnn_fer.cluster.run import predict_corpus
from pcnn_fer.cluster.shards import SettingsMismatchError, ShardFolder
from pcnn_fer.inference.results import FaceResult
from pcnn_fer.inference.writers import record_file


def test_inputs_all_written_are_skipped_without_starting_ray_and_an_export_request_is_no_new_setting(
        tmp_path, require_module):
    require_module("ray", "cluster")
    import ray

    options = {"detector": "none"}
    assert predict_corpus([], tmp_path / "run", recognizer_options=options).inputs == 0  # claims the folder
    with record_file(ShardFolder(tmp_path / "run", "jsonl").shard("done"), "jsonl", ("neutral",)) as sink:
        sink.write([FaceResult.no_face("a.jpg")])
    summary = predict_corpus(["a.jpg"], tmp_path / "run", recognizer_options={**options, "export_onnx": True})
    assert (summary.inputs, summary.skipped, summary.ok, summary.lost) == (1, 1, 0, 0)
    assert not ray.is_initialized()
    with pytest.raises(SettingsMismatchError, match="detector was 'none', now 'mtcnn'"):
        predict_corpus(["a.jpg"], tmp_path / "run", recognizer_options={"detector": "mtcnn"})
