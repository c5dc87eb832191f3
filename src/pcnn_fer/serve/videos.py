"""Video uploads as background jobs: a bounded queue, one worker, progress and tracked records per job.

A job runs to its end whatever its client does (it may disconnect and ask later); its upload lives in the
server's temporary folder under a name the server chose, and is deleted when the job ends.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.inference.video import VIDEO_SUFFIXES, VideoError, predict_video, video_info
from pcnn_fer.serve.batching import QueueFull

log = logging.getLogger(__name__)


@dataclass
class VideoJob:
    """One uploaded video and what has come of it so far."""

    id: str
    name: str
    path: Path
    every: int
    smooth: float | None
    frame_count: int  # frames to process (every `every`-th of the container's count; 0 when it does not say)
    status: str = "queued"  # queued, running, done, failed
    frames_done: int = 0
    records: list[dict] = field(default_factory=list)
    error: str | None = None
    finished: float | None = None

    def to_dict(self, offset: int = 0) -> dict:
        """The job's state and its records from `offset` on (a client polling keeps its own offset)."""
        progress = min(1.0, self.frames_done / self.frame_count) if self.frame_count else None
        return {"id": self.id, "input": self.name, "status": self.status, "frames_done": self.frames_done,
                "frame_count": self.frame_count, "progress": 1.0 if self.status == "done" else progress,
                "error": self.error, "records": self.records[offset:], "next_offset": len(self.records)}


class VideoJobs:
    """The jobs of one server: `submit` queues one, `get` finds it, a worker thread runs them in order."""

    def __init__(self, recognizer: Recognizer, folder: Path, *, queue_size: int, kept: int) -> None:
        self.recognizer = recognizer
        self.folder = folder
        self.kept = kept
        self._queue: queue.Queue[VideoJob | None] = queue.Queue(maxsize=queue_size)
        self._jobs: OrderedDict[str, VideoJob] = OrderedDict()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="pcnn-fer videos", daemon=True)
        self._thread.start()

    @property
    def waiting(self) -> int:
        """Jobs queued and not started."""
        return self._queue.qsize()

    def submit(self, data: bytes, name: str, *, every: int = 1, smooth: float | None = None) -> VideoJob:
        """Store the upload and queue its job; VideoError when it is not a video, QueueFull when there is no room."""
        full = QueueFull(f"{self._queue.maxsize} video jobs are already waiting")
        if self._queue.full():
            raise full
        job_id = uuid.uuid4().hex
        suffix = Path(name).suffix.lower()
        path = self.folder / f"{job_id}{suffix if suffix in VIDEO_SUFFIXES else '.mp4'}"
        path.write_bytes(data)
        try:
            info = video_info(path)
            job = VideoJob(job_id, name, path, every, smooth, -(-info.frame_count // every))
            with self._lock:
                self._queue.put_nowait(job)
                self._jobs[job_id] = job
        except VideoError as error:
            path.unlink(missing_ok=True)
            raise VideoError(str(error).replace(str(path), name)) from error
        except queue.Full as cause:
            path.unlink(missing_ok=True)
            raise full from cause
        return job

    def get(self, job_id: str) -> VideoJob | None:
        """The job with this id, while it is kept."""
        with self._lock:
            return self._jobs.get(job_id)

    def close(self) -> None:
        """Stop the worker once the running job ends; queued jobs are dropped with their uploads."""
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.path.unlink(missing_ok=True)
        self._queue.put(None)
        self._thread.join()

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            job.status = "running"
            try:
                for frame in predict_video(self.recognizer, job.path, every=job.every, smoothing=job.smooth,
                                           name=job.name):
                    job.records += [record.to_dict() for record in frame.faces]
                    job.frames_done += 1
                job.status = "done"
            except (VideoError, OSError) as error:  # the upload is not a readable video
                job.status, job.error = "failed", str(error).replace(str(job.path), job.name)
            except Exception as error:  # a bug: its traceback goes to the log, the job fails, the worker goes on
                log.exception("video job %s failed", job.id)
                job.status, job.error = "failed", f"internal error: {type(error).__name__}: {error}"
            finally:
                job.finished = time.time()
                job.path.unlink(missing_ok=True)
                self._forget_old()

    def _forget_old(self) -> None:
        """Keep at most `kept` finished jobs, dropping the oldest."""
        with self._lock:
            finished = [key for key, job in self._jobs.items() if job.finished is not None]
            for key in finished[:max(0, len(finished) - self.kept)]:
                del self._jobs[key]

