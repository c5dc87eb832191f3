"""One corpus worker, run in this process: a task's shard holds what `predict` writes, and a bug on one input costs
that input alone its records."""

from __future__ import annotations

import io
import json

from pcnn_fer.cluster.plan import Task
from pcnn_fer.cluster.shards import ShardFolder
from pcnn_fer.cluster.worker import INPUT_DEATHS, TASK_DEATHS, CorpusWorker
from pcnn_fer.inference.pipeline import PredictOptions, run_predictions
from pcnn_fer.inference.records import read_records
from pcnn_fer.inference.writers import RecordWriter


def _worker(tmp_path, model_dir, fmt="jsonl"):
    return CorpusWorker(str(tmp_path / "run"), fmt, str(model_dir), {"detector": "none"}, {"batch_size": 4})


def test_a_task_writes_the_records_predict_writes_into_its_shard(tmp_path, tiny_model_dir, face_crops, bad_inputs):
    worker = _worker(tmp_path, tiny_model_dir)
    inputs = tuple(map(str, [*face_crops[:3], bad_inputs["text_as_jpg"]]))
    answer = worker({"task": [json.dumps(inputs)]})
    assert answer["task"] == [Task(inputs).id]
    assert (answer["inputs"], answer["ok"], answer["failed"], answer["faces"]) == ([4], [3], [1], [3])
    assert answer["peak_rss_mb"][0] > 50 and answer["worker"][0].endswith(f":{worker.name.split(':')[1]}")
    stream = io.StringIO()
    run_predictions(worker.recognizer, inputs, RecordWriter(stream, "jsonl", worker.recognizer.class_names),
                    options=PredictOptions(batch_size=4, show_progress=False))
    expected = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert list(read_records([ShardFolder(tmp_path / "run", "jsonl").shard(Task(inputs).id)])) == expected


def test_an_input_that_raises_gets_an_error_record_and_the_others_keep_theirs(tmp_path, tiny_model_dir, face_crops):
    worker = _worker(tmp_path, tiny_model_dir, "parquet")
    inputs = tuple(map(str, face_crops[:3]))
    predict_batch = worker.recognizer.predict_batch

    def broken_on_the_second(items, names, **options):
        if inputs[1] in names:
            raise ZeroDivisionError("a bug")
        return predict_batch(items, names=names, **options)

    worker.recognizer.predict_batch = broken_on_the_second
    answer = worker({"task": [json.dumps(inputs)]})
    assert (answer["ok"], answer["failed"], answer["faces"]) == ([2], [1], [2])
    records = list(read_records([tmp_path / "run"]))
    assert [(r["input"], r["status"]) for r in records] == [(inputs[0], "face"), (inputs[1], "error"),
                                                            (inputs[2], "face")]
    assert records[1]["error"] == "internal error: ZeroDivisionError('a bug')"


def test_a_task_that_killed_its_workers_runs_input_by_input_and_a_deadly_input_gets_an_error_record(
        tmp_path, tiny_model_dir, face_crops):
    worker = _worker(tmp_path, tiny_model_dir)
    inputs = tuple(map(str, face_crops[:3]))
    task = Task(inputs).id
    for _ in range(TASK_DEATHS):  # three workers died on the task ...
        worker.shards.started(task)
    for _ in range(INPUT_DEATHS):  # ... and, run input by input, two more on its second input
        worker.shards.started(f"{task}-1")
    answer = worker({"task": [json.dumps(inputs)]})
    assert (answer["ok"], answer["failed"], answer["faces"]) == ([2], [1], [2])
    records = list(read_records([tmp_path / "run"]))
    assert [(r["input"], r["status"]) for r in records] == [(inputs[0], "face"), (inputs[1], "error"),
                                                            (inputs[2], "face")]
    assert records[1]["error"].startswith("the worker process died 2 times on this input")
    assert worker.shards.unfinished_starts(task) == worker.shards.unfinished_starts(f"{task}-0") == 0


def test_a_task_that_finishes_leaves_no_count_of_starts(tmp_path, tiny_model_dir, face_crops):
    worker = _worker(tmp_path, tiny_model_dir)
    inputs = (str(face_crops[0]),)
    worker.shards.started(Task(inputs).id)  # one worker died on it before
    assert worker({"task": [json.dumps(inputs)]})["ok"] == [1]
    assert worker.shards.unfinished_starts(Task(inputs).id) == 0
