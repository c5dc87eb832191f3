"""Corpus runs on a local Ray with 2 CPUs: the records equal local `predict`'s, a worker killed mid-run loses
nothing, a run interrupted and run again writes every input once, and bad inputs give error records."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from pcnn_fer.cluster.run import predict_corpus
from pcnn_fer.cluster.shards import ShardFolder
from pcnn_fer.inference.pipeline import PredictOptions, run_predictions
from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.inference.records import read_records
from pcnn_fer.inference.writers import RecordWriter, flat_row

pytestmark = pytest.mark.slow
WORKER_TITLE = "CorpusWorker"  # in the process title Ray gives each worker actor


def _key(record: dict) -> tuple:
    return record["input"], record.get("frame", -1), record.get("face") or -1


def _assert_same_records(got: list[dict], expected: list[dict]) -> None:
    """The same records, every number within 1e-5 (the workers run the model on other threads)."""
    assert sorted(map(_key, got)) == sorted(map(_key, expected))
    for mine, theirs in zip(sorted(got, key=_key), sorted(expected, key=_key)):
        mine, theirs = flat_row(mine), flat_row(theirs)
        assert mine.keys() == theirs.keys()
        for column, value in mine.items():
            if isinstance(value, float):
                assert value == pytest.approx(theirs[column], abs=1e-5), column
            else:
                assert value == theirs[column], column


def _records_per_input(folder) -> Counter:
    """How many shards hold records of each input."""
    holders = Counter()
    for shard in ShardFolder(folder, "jsonl").shards():
        holders.update({record["input"] for record in read_records([shard])})
    return holders


@pytest.mark.network
def test_ray_gives_the_records_of_local_predict_on_photos_a_video_and_bad_inputs(local_ray, tmp_path, pyfeat_data,
                                                                                   bad_inputs):
    inputs = [str(pyfeat_data / name) for name in ("0-f1-su-ph.jpg", "15-f13-anc-ph.jpg", "single_face.mp4")]
    inputs += [str(bad_inputs[kind]) for kind in ("truncated_jpeg", "unreadable_video")] + [str(tmp_path / "gone.jpg")]
    options = PredictOptions(every=12, show_progress=False)
    summary = predict_corpus(inputs, tmp_path / "run", recognizer_options={"detector": "auto"}, options=options,
                             fmt="parquet", workers=1, photos_per_task=2, show_progress=False)
    assert (summary.ok, summary.failed, summary.lost, summary.skipped) == (3, 3, 0, 0)
    assert len(summary.workers) == 1 and all(mb > 100 for mb in summary.workers.values())

    recognizer = Recognizer.from_pretrained(None, "auto")
    stream = io.StringIO()
    run_predictions(recognizer, inputs, RecordWriter(stream, "jsonl", recognizer.class_names), options=options)
    expected = [json.loads(line) for line in stream.getvalue().splitlines()]
    got = list(read_records([tmp_path / "run"]))
    _assert_same_records(got, expected)
    assert sum(r["input"].endswith(".mp4") and r["status"] == "face" for r in got) == 6  # 72 frames, every 12th
    assert {r["input"] for r in got if r["status"] == "error"} == set(inputs[-3:])


def _kill_a_worker_after_the_first_shard(folder, killed: list) -> None:
    import psutil

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        shards = ShardFolder(folder, "jsonl").shards()
        if shards:
            for process in psutil.process_iter(["pid", "cmdline"]):
                if WORKER_TITLE in " ".join(process.info["cmdline"] or ()):
                    os.kill(process.info["pid"], signal.SIGKILL)
                    killed.append(len(shards))
                    return
        time.sleep(0.02)


def test_a_worker_killed_mid_run_loses_nothing_and_doubles_nothing(local_ray, tmp_path, tiny_model_dir, face_crops):
    inputs = [str(path) for path in face_crops]
    killed: list[int] = []
    killer = threading.Thread(target=_kill_a_worker_after_the_first_shard, args=(tmp_path / "run", killed))
    killer.start()
    summary = predict_corpus(inputs, tmp_path / "run", model=str(tiny_model_dir),
                             recognizer_options={"detector": "none"}, workers=2, photos_per_task=1,
                             show_progress=False)
    killer.join()
    assert killed and killed[0] < len(inputs), "no worker was killed while the run went on"
    assert (summary.ok, summary.failed, summary.lost) == (len(inputs), 0, 0)
    assert _records_per_input(tmp_path / "run") == Counter({path: 1 for path in inputs})
    assert len(list(read_records([tmp_path / "run"]))) == len(inputs)


def test_an_interrupted_run_run_again_writes_every_input_once(local_ray, tmp_path, tiny_model_dir, face_crops, capsys):
    from pcnn_fer.cli.main import main

    inputs = [str(path) for path in face_crops]
    command = ["corpus", *inputs, "--output", str(tmp_path / "run"), "--model", str(tiny_model_dir),
               "--detector", "none", "--photos-per-task", "1", "--workers", "1"]
    # A run of its own (with its own local Ray), stopped by Ctrl-C once its first shards are written.
    run = subprocess.Popen([sys.executable, "-m", "pcnn_fer", *command, "--quiet"], stderr=subprocess.PIPE,
                           text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while not ShardFolder(tmp_path / "run", "jsonl").shards():
        assert run.poll() is None and time.monotonic() < deadline, run.stderr.read() if run.poll() else "timed out"
        time.sleep(0.02)
    run.send_signal(signal.SIGINT)
    assert run.wait(timeout=120) == 130, run.stderr.read()
    first = len(ShardFolder(tmp_path / "run", "jsonl").shards())
    assert 0 < first < len(inputs)

    assert main(command) == 0
    assert f"{first} done before" in capsys.readouterr().err
    assert _records_per_input(tmp_path / "run") == Counter({path: 1 for path in inputs})
