"""One worker of a corpus run: a Ray actor that loads the model once and runs task after task through the
library's own pipeline, each task's records into its shard."""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from pcnn_fer.atomic import atomic_path
from pcnn_fer.cluster.plan import Task
from pcnn_fer.cluster.shards import ShardFolder
from pcnn_fer.inference.pipeline import PredictionSummary, PredictOptions, run_predictions
from pcnn_fer.inference.results import FaceResult
from pcnn_fer.inference.writers import record_file

log = logging.getLogger(__name__)
TASK_DEATHS = 3  # deaths of a worker on one task after which its inputs are run one by one
INPUT_DEATHS = 2  # deaths of a worker on one input after which it gets an error record instead of another try


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
    (a bug) gets an error record here, so that a task always ends with a record set for each of its inputs. Ray
    runs the task of a worker that died again on a new one; a task that killed TASK_DEATHS workers is run one input
    at a time, and an input that killed INPUT_DEATHS of them gets an error record instead (the starts are counted
    in the output folder, which every worker sees).
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
        task = Task(inputs)
        start = time.perf_counter()
        deaths = self.shards.unfinished_starts(task.id)
        self.shards.started(task.id)
        if deaths >= TASK_DEATHS:
            log.warning("workers died %d times on a task of %d input(s); running them one by one", deaths,
                        len(inputs))
            summary = self._write(task.id, lambda sink: self._one_by_one(inputs, sink, task.id))
        else:
            try:
                summary = self._write(task.id, lambda sink: run_predictions(self.recognizer, inputs, sink,
                                                                             options=self.options))
            except Exception:
                log.exception("a task of %d input(s) failed; running its inputs one by one", len(inputs))
                summary = self._write(task.id, lambda sink: self._one_by_one(inputs, sink))
        self.shards.finished(task.id)
        return TaskReport(task=task.id, inputs=len(inputs), ok=summary.ok, failed=summary.failed, faces=summary.faces,
                          seconds=time.perf_counter() - start, worker=self.name, peak_rss_mb=peak_rss_mb())

    def _write(self, task_id: str, produce) -> PredictionSummary:
        with atomic_path(self.shards.shard(task_id)) as partial, \
                record_file(partial, self.shards.fmt, self.recognizer.class_names) as sink:
            return produce(sink)

    def _one_by_one(self, inputs: Sequence[str], sink, guarded_task: str | None = None) -> PredictionSummary:
        """Each input on its own; one that raises gets an error record instead of its records so far. Within a
        `guarded_task`, each input's starts are counted, and one that killed INPUT_DEATHS workers is not run."""
        summary = PredictionSummary()
        for index, path in enumerate(inputs):
            key = f"{guarded_task}-{index}"
            if guarded_task is not None:
                deaths = self.shards.unfinished_starts(key)
                if deaths >= INPUT_DEATHS:
                    sink.write([FaceResult.failure(path, f"the worker process died {deaths} times on this input "
                                                         f"(a crash in a decoder, or out of memory)")])
                    summary.add(False, 0)
                    continue
                self.shards.started(key)
            kept = RecordList()
            try:
                done = run_predictions(self.recognizer, [path], kept, options=self.options)
            except Exception as error:
                log.exception("%s: internal error", path)
                kept.records = [FaceResult.failure(path, f"internal error: {error!r}")]
                done = PredictionSummary(failed=1)
            if guarded_task is not None:
                self.shards.finished(key)  # the worker lived through it
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
