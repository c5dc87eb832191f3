"""What every route of a server shares: its Recognizer, settings, batcher, video jobs and metrics.

Routes take it as a FastAPI dependency (`ServerContext` from `app.state.context`), so that each can be imported and
tested on an app of its own.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.serve.batching import Batcher
from pcnn_fer.serve.metrics import ServerMetrics
from pcnn_fer.serve.settings import ServeSettings
from pcnn_fer.serve.videos import VideoJobs

API = "/v1"


@dataclass
class ServerContext:
    """One server's shared parts. The Recognizer serves the batcher's thread and the video thread in turns."""

    recognizer: Recognizer
    settings: ServeSettings
    batcher: Batcher
    jobs: VideoJobs
    metrics: ServerMetrics
    folder: Path  # where video uploads wait for their job

    @classmethod
    def start(cls, recognizer: Recognizer, settings: ServeSettings) -> ServerContext:
        """Start the model and video threads within `settings`' limits."""
        folder = Path(tempfile.mkdtemp(prefix="pcnn-fer-serve-"))
        jobs = VideoJobs(recognizer, folder, queue_size=settings.video_queue_size, kept=settings.kept_jobs)
        batcher = Batcher(recognizer, queue_size=settings.queue_size, window_s=settings.batch_window_ms / 1000,
                          max_batch=settings.max_batch, detect_threads=settings.detect_threads)
        metrics = ServerMetrics(lambda: batcher.depth, lambda: jobs.waiting)
        return cls(recognizer, settings, batcher, jobs, metrics, folder)

    def close(self) -> None:
        """Answer what is queued, stop the threads and remove the upload folder."""
        self.batcher.close()
        self.jobs.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def server_context(request: Request) -> ServerContext:
    """The dependency every route takes: the context of the app serving the request."""
    return request.app.state.context
