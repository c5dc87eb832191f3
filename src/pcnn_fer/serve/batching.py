"""One model thread: images from all requests wait in a bounded queue and go through predict_batch together.

Batching many clients' faces into one forward pass is what makes a loaded server faster per image than one
answering each request alone; the short window bounds the latency it adds to a lone request.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.inference.results import FaceResult


class QueueFull(RuntimeError):
    """The bounded queue has no room: the client should retry later."""


@dataclass(frozen=True)
class BatchAnswer:
    """One image's faces, with the seconds it waited in the queue, the seconds of its batch's model call, and
    how many images that batch held."""

    faces: list[FaceResult]
    queued_s: float
    model_s: float
    batch_size: int


@dataclass
class _Item:
    image: np.ndarray
    name: str
    explain: bool
    flip_tta: bool
    min_score: float | None
    future: Future
    arrived: float


class Batcher:
    """Collects images for `window_s` after the first arrives (at most `max_batch`), then calls predict_batch
    once per (explain, flip_tta, min_score) group. `submit` raises QueueFull rather than wait, so memory stays flat."""

    def __init__(self, recognizer: Recognizer, *, queue_size: int, window_s: float, max_batch: int) -> None:
        self.recognizer = recognizer
        self.window_s = window_s
        self.max_batch = max_batch
        self._queue: queue.Queue[_Item | None] = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._work, name="pcnn-fer model", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        """Images waiting for the model."""
        return self._queue.qsize()

    def submit(self, image: np.ndarray, name: str, *, explain: bool = False, flip_tta: bool = False,
               min_score: float | None = None) -> Future:
        """A future of the image's BatchAnswer; cancelling it before its batch starts drops the image. Faces
        the detector scored below `min_score` are left out before the model, as `pcnn-fer predict` leaves them."""
        future: Future = Future()
        try:
            self._queue.put_nowait(_Item(image, name, explain, flip_tta, min_score, future, time.perf_counter()))
        except queue.Full as cause:
            raise QueueFull(f"the queue of {self._queue.maxsize} images is full") from cause
        return future

    def close(self) -> None:
        """Stop the thread once the images already queued are answered."""
        self._queue.put(None)
        self._thread.join()

    def _work(self) -> None:
        while (first := self._queue.get()) is not None:
            items, stop = [first], False
            deadline = time.perf_counter() + self.window_s
            while len(items) < self.max_batch and (left := deadline - time.perf_counter()) > 0:
                try:
                    item = self._queue.get(timeout=left)
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                items.append(item)
            # Requests that gave up (a timeout, a full queue part-way through a batch request) are dropped here.
            items = [item for item in items if item.future.set_running_or_notify_cancel()]
            for key in dict.fromkeys(_options(item) for item in items):
                self._run([item for item in items if _options(item) == key], *key)
            if stop:
                return

    def _run(self, group: list[_Item], explain: bool, flip_tta: bool, min_score: float | None) -> None:
        start = time.perf_counter()
        try:
            results = self.recognizer.predict_batch([item.image for item in group],
                                                    names=[item.name for item in group], explain=explain,
                                                    flip_tta=flip_tta, min_score=min_score)
        except Exception as error:  # noqa: BLE001 - every waiting request must hear of it
            for item in group:
                item.future.set_exception(error)
            return
        seconds = time.perf_counter() - start
        for item, faces in zip(group, results):
            item.future.set_result(BatchAnswer(faces, start - item.arrived, seconds, len(group)))


def _options(item: _Item) -> tuple[bool, bool, float | None]:
    """What images must share to go through one predict_batch call."""
    return item.explain, item.flip_tta, item.min_score
