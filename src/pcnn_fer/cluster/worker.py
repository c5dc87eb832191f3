"""One worker of a corpus run: a Ray actor that loads the model once and runs task after task through the
library's own pipeline, each task's records into its shard."""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from pcnn_fer.atomic import atomic_path
from pcnn_fer.cluster.shards import ShardFolder
from pcnn_fer.inference.pipeline import PredictionSummary, PredictOptions, run_predictions
from pcnn_fer.inference.results import FaceResult
from pcnn_fer.inference.writers import record_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskReport:
    """What one task did, as the worker sends it back: the driver's progress and summary are made of these."""

    task: str
    inputs: int
    ok: int
    failed: int
    faces: int
    seconds: float
    worker: str
    peak_rss_mb: float


class CorpusWorker:
    """Loads the Recognizer once (`model` and `recognizer_options` as Recognizer.from_pretrained takes them), then
    writes each task's records into its shard of `folder`.

    Called by Ray Data with batches of tasks (`{"task": [JSON list of inputs, ...]}`); answers one TaskReport row per
    task. An input that the pipeline cannot read gets its error record there; an input that raises anything else
    (a bug) gets an error record here, so that a task always ends with a record set for each of its inputs.
    """

    def __init__(self, folder: str, fmt: str, model: str | None, recognizer_options: dict, predict_options: dict,
                 threads: int = 1) -> None:
        import torch

        from pcnn_fer.inference.recognizer import Recognizer

        torch.set_num_threads(threads)
        self.shards = ShardFolder(folder, fmt)
        self.recognizer = Recognizer.from_pretrained(model, threads=threads, **recognizer_options)
        self.options = PredictOptions(**predict_options, show_progress=False)
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch: dict) -> dict:
        reports = [asdict(self.run(tuple(json.loads(task)))) for task in batch["task"]]
        return {key: [report[key] for report in reports] for key in TaskReport.__dataclass_fields__}

    def run(self, inputs: tuple[str, ...]) -> TaskReport:
        """Write the records of `inputs` into their task's shard and say what they were."""
        from pcnn_fer.cluster.plan import Task

        task = Task(inputs)
        start = time.perf_counter()
        try:
            summary = self._write(task.id, lambda sink: run_predictions(self.recognizer, inputs, sink,
                                                                         options=self.options))
        except Exception:
            log.exception("a task of %d input(s) failed; running its inputs one by one", len(inputs))
            summary = self._write(task.id, lambda sink: self._one_by_one(inputs, sink))
        return TaskReport(task=task.id, inputs=len(inputs), ok=summary.ok, failed=summary.failed, faces=summary.faces,
                          seconds=time.perf_counter() - start, worker=self.name, peak_rss_mb=peak_rss_mb())

    def _write(self, task_id: str, produce) -> PredictionSummary:
        with atomic_path(self.shards.shard(task_id)) as partial, \
                record_file(partial, self.shards.fmt, self.recognizer.class_names) as sink:
            return produce(sink)

    def _one_by_one(self, inputs: Iterable[str], sink) -> PredictionSummary:
        """Each input on its own; one that raises gets an error record instead of its records so far."""
        summary = PredictionSummary()
        for path in inputs:
            kept = RecordList()
            try:
                done = run_predictions(self.recognizer, [path], kept, options=self.options)
            except Exception as error:
                log.exception("%s: internal error", path)
                sink.write([FaceResult.failure(path, f"internal error: {error!r}")])
                summary.add(False, 0)
                continue
            sink.write(kept.records)
            summary.add(bool(done.ok), done.faces)
        return summary


class RecordList:
    """A record sink that keeps the records in memory."""

    def __init__(self) -> None:
        self.records: list[FaceResult] = []

    def write(self, faces: Iterable[FaceResult]) -> None:
        self.records += faces


def peak_rss_mb() -> float:
    """The most resident memory this process has held so far, in MiB."""
    import resource  # POSIX only

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux
