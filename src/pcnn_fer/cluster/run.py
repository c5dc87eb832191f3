"""The driver of a corpus run: connects to Ray (or starts it for the run), plans the tasks left, streams them through
a pool of CorpusWorker actors with Ray Data, and shows and sums up what the workers report."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pcnn_fer.cluster.plan import Task, plan_tasks
from pcnn_fer.cluster.shards import ShardFolder
from pcnn_fer.cluster.worker import CorpusWorker
from pcnn_fer.inference.pipeline import PredictOptions
from pcnn_fer.progress import progress


@dataclass
class CorpusSummary:
    """What a corpus run did: inputs processed, failed (each has its error record), done by an earlier run and
    skipped, and lost (their task never finished: running the same command again retries them); face records;
    wall time; the peak memory of each worker, in MiB."""

    inputs: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    lost: int = 0
    faces: int = 0
    seconds: float = 0.0
    workers: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        """The one-line summary printed at the end of a run."""
        rate = (self.ok + self.failed) / self.seconds if self.seconds else 0.0
        memory = f", peak memory per worker {max(self.workers.values()):.0f} MiB" if self.workers else ""
        return (f"{self.inputs} input(s): {self.ok} processed, {self.failed} failed, {self.skipped} done before"
                + (f", {self.lost} lost (run again to retry them)" if self.lost else "")
                + f"; {self.faces} face record(s); {rate:.1f} inputs/s over {self.seconds:.1f} s"
                + f" on {len(self.workers)} worker(s){memory}")


def predict_corpus(inputs: Sequence[str], output: str | Path, *, model: str | Path | None = None,
                   recognizer_options: dict | None = None, options: PredictOptions = PredictOptions(),
                   fmt: str = "jsonl", address: str | None = None, workers: int | None = None, threads: int = 1,
                   photos_per_task: int = 16, show_progress: bool = True) -> CorpusSummary:
    """Write the records of every input into shards under `output`, on Ray; what is written already is skipped.

    `address` None joins the Ray this process already joined, the one RAY_ADDRESS names or `ray start` runs on this
    machine, or else starts a local Ray for the run (Ray's own rule); "auto" or "ray://host:port" joins a cluster,
    whose nodes must see the inputs and `output` under the same paths. `workers` actors (default: as many as the
    cluster's CPUs allow at `threads` each) load the model once each. `model`, `recognizer_options` and `options`
    are those of `predict` (Recognizer.from_pretrained, PredictOptions); the records are the same.
    """
    ray = _ray()
    model = None if model is None else str(model)
    recognizer_options = recognizer_options or {}
    folder = ShardFolder(output, fmt)
    predict_options = {key: value for key, value in asdict(options).items() if key != "show_progress"}
    # What the records depend on; asking for an ONNX export does not change them.
    settings = {key: value for key, value in recognizer_options.items() if key != "export_onnx"}
    folder.claim({"model": model, **settings, **predict_options})
    inputs = list(dict.fromkeys(inputs))
    done = folder.done_inputs()
    tasks = plan_tasks(inputs, done, photos_per_task)
    summary = CorpusSummary(inputs=len(inputs), skipped=sum(path in done for path in inputs))
    if not tasks:
        return summary
    started = _join(ray, address)
    start = time.perf_counter()
    try:
        workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1) // threads))
        reports = _stream(ray, tasks, folder, model, recognizer_options, predict_options, workers, threads)
        _follow(reports, tasks, summary, show_progress)
    finally:
        if started:
            ray.shutdown()
    summary.seconds = time.perf_counter() - start
    return summary


def _ray():
    try:
        import ray
        import ray.data
    except ImportError as missing:
        raise RuntimeError('a corpus runs on Ray, which is not installed: pip install "pcnn-fer[cluster]"') \
            from missing
    return ray


def _join(ray, address: str | None) -> bool:
    """Join Ray at `address`, or start a local one; True when this run started it (and so stops it)."""
    if ray.is_initialized():
        return False
    ray.init(address=address, logging_level=logging.WARNING, include_dashboard=False,
             configure_logging=True, log_to_driver=True)
    return True


def _stream(ray, tasks: list[Task], folder: ShardFolder, model: str | None, recognizer_options: dict,
            predict_options: dict, workers: int, threads: int):
    """The workers' TaskReport rows, in the order tasks finish."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the run shows its own, counted in inputs and faces
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    dataset = ray.data.from_items([{"task": json.dumps(task.inputs)} for task in tasks],
                                  override_num_blocks=len(tasks))
    return dataset.map_batches(
        CorpusWorker, batch_size=1, compute=ray.data.ActorPoolStrategy(size=min(workers, len(tasks))),
        num_cpus=threads, fn_constructor_kwargs={
            "folder": str(folder.folder), "fmt": folder.fmt, "model": model,
            "recognizer_options": recognizer_options, "predict_options": predict_options, "threads": threads},
    ).iter_rows()


def _follow(reports, tasks: list[Task], summary: CorpusSummary, show_progress: bool) -> None:
    """Count the reports into `summary` while a bar shows inputs done, faces, failures and throughput."""
    left = {task.id: len(task.inputs) for task in tasks}
    bar = progress(None, sum(left.values()), "corpus", enabled=show_progress, unit="input")
    try:
        for report in reports:
            left.pop(report["task"], None)
            summary.ok += int(report["ok"])
            summary.failed += int(report["failed"])
            summary.faces += int(report["faces"])
            worker = str(report["worker"])
            summary.workers[worker] = max(summary.workers.get(worker, 0.0), float(report["peak_rss_mb"]))
            bar.update(int(report["inputs"]))
            bar.set_postfix(faces=summary.faces, failed=summary.failed, workers=len(summary.workers))
    finally:
        bar.close()
    summary.lost = sum(left.values())
