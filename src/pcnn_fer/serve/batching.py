"""Two stages for uploaded images: faces are found on several threads at once, then one model thread runs the
faces of every image that arrived together through a single `classify` call.

Finding faces costs more than the model for a lone photo and cannot be batched across requests, so it runs on as
many threads as there are cores, each with its own detector; the model batches many clients' faces into one forward
pass, which makes a loaded server faster per image than one answering each request alone, and the short window
bounds the latency it adds to a lone request.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from pcnn_fer.faces.detect import Detector
from pcnn_fer.inference.recognizer import CutFace, Recognizer
from pcnn_fer.inference.results import FaceResult


class QueueFull(RuntimeError):
    """The server holds as many images as it may: the client should retry later."""


@dataclass(frozen=True)
class BatchAnswer:
    """One image's faces, with the seconds its faces took to find, the seconds it then waited for the model, the
    seconds of its batch's model call, and how many images that batch held."""

    faces: list[FaceResult]
    detect_s: float
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
    found: list[CutFace] | FaceResult = field(default_factory=list)
    detect_s: float = 0.0
    detected: float = 0.0  # when its faces were found


class Batcher:
    """Finds faces on `detect_threads` threads (default: one per core), then collects images for `window_s` after
    the first reaches the model thread (at most `max_batch`) and calls classify once per (explain, flip_tta) group.
    At most `queue_size` images are inside at once; `submit` raises QueueFull rather than wait, so memory stays
    flat."""

    def __init__(self, recognizer: Recognizer, *, queue_size: int, window_s: float, max_batch: int,
                 detect_threads: int | None = None) -> None:
        self.recognizer = recognizer
        self.window_s = window_s
        self.max_batch = max_batch
        self.queue_size = queue_size
        self._inside = 0
        self._inside_lock = threading.Lock()
        self._local = threading.local()
        self._finders = ThreadPoolExecutor(detect_threads or os.cpu_count() or 1, "pcnn-fer detect")
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="pcnn-fer model", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        """Images inside: having their faces found or waiting for the model."""
        return self._inside

    def submit(self, image: np.ndarray, name: str, *, explain: bool = False, flip_tta: bool = False,
               min_score: float | None = None) -> Future:
        """A future of the image's BatchAnswer; cancelling it before its batch starts drops the image. Faces
        the detector scored below `min_score` are left out before the model, as `pcnn-fer predict` leaves them."""
        with self._inside_lock:
            if self._inside >= self.queue_size:
                raise QueueFull(f"the server already holds {self.queue_size} images")
            self._inside += 1
        future: Future = Future()
        future.add_done_callback(self._left)
        self._finders.submit(self._find, _Item(image, name, explain, flip_tta, min_score, future))
        return future

    def close(self) -> None:
        """Stop the threads once the images already inside are answered."""
        self._finders.shutdown(wait=True)
        self._queue.put(None)
        self._thread.join()

    def _left(self, _: Future) -> None:
        with self._inside_lock:
            self._inside -= 1

    def _detector(self) -> Detector | None:
        """This finder thread's own copy of the recognizer's detector (None: the recognizer's, shared)."""
        mine = getattr(self._local, "mine", None)
        if mine is None or mine[0] is not self.recognizer:  # made again for a recognizer swapped in
            mine = self._local.mine = (self.recognizer, self.recognizer.spare_detector())
        return mine[1]

    def _find(self, item: _Item) -> None:
        if item.future.cancelled():
            return
        start = time.perf_counter()
        try:
            item.found = self.recognizer.cut_faces(item.image, item.name, detector=self._detector(),
                                                   min_score=item.min_score)
        except Exception as error:  # noqa: BLE001 - the waiting request must hear of it
            if item.future.set_running_or_notify_cancel():
                item.future.set_exception(error)
            return
        item.detected = time.perf_counter()
        item.detect_s = item.detected - start
        self._queue.put(item)

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
            for key in dict.fromkeys((item.explain, item.flip_tta) for item in items):
                self._run([item for item in items if (item.explain, item.flip_tta) == key], *key)
            if stop:
                return

    def _run(self, group: list[_Item], explain: bool, flip_tta: bool) -> None:
        start = time.perf_counter()
        searched = [item for item in group if not isinstance(item.found, FaceResult)]
        try:
            records = iter(self.recognizer.classify([face for item in searched for face in item.found],
                                                    explain=explain, flip_tta=flip_tta))
        except Exception as error:  # noqa: BLE001 - every waiting request must hear of it
            for item in group:
                item.future.set_exception(error)
            return
        seconds = time.perf_counter() - start
        for item in group:
            faces = [item.found] if isinstance(item.found, FaceResult) else [next(records) for _ in item.found]
            item.future.set_result(BatchAnswer(faces, item.detect_s, start - item.detected, seconds, len(group)))
