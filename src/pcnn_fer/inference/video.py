"""Expressions over a video file or a webcam: frames decoded on a reader thread, faces searched now and then and
followed in between, batched across frames through the model, tracked and optionally smoothed."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from pcnn_fer.faces.follow import FaceFollower
from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.inference.results import FaceResult
from pcnn_fer.inference.tracking import FaceTracker

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")


class VideoError(ValueError):
    """A video that cannot be opened or decoded."""


@dataclass(frozen=True, eq=False)
class FrameResult:
    """The face records of one processed frame (or one error record); `image` (RGB) is kept only when asked
    for, e.g. to draw on it; `skipped` counts the frames dropped just before it to keep up with a live source."""

    index: int
    time: float | None
    faces: list[FaceResult]
    image: np.ndarray | None = None
    skipped: int = 0


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video (frame_count is an estimate for some formats, 0 if unknown)."""

    fps: float
    frame_count: int
    width: int
    height: int


def open_video(source: str | Path | int) -> cv2.VideoCapture:
    """An opened capture for a file path or a webcam index, or a VideoError naming the source."""
    if not isinstance(source, int):
        path = Path(source)
        if not path.is_file():
            raise VideoError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
        if path.stat().st_size == 0:
            raise VideoError(f"{path}: empty file (0 bytes)")
    capture = cv2.VideoCapture(source if isinstance(source, int) else str(source))
    if not capture.isOpened():
        what = f"webcam {source}" if isinstance(source, int) else str(source)
        raise VideoError(f"{what}: cannot be opened as a video (unknown format, corrupt or truncated file, "
                         f"or no such camera)")
    return capture


def video_info(source: str | Path | int) -> VideoInfo:
    """Frame rate, frame count and size of a video file or camera, read without decoding it."""
    capture = open_video(source)
    try:
        return VideoInfo(fps=float(capture.get(cv2.CAP_PROP_FPS)),
                         frame_count=int(capture.get(cv2.CAP_PROP_FRAME_COUNT)),
                         width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                         height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    finally:
        capture.release()


def read_frames(source: str | Path | int, every: int = 1) -> Iterator[tuple[int, float | None, np.ndarray]]:
    """(frame index, time in seconds or None, RGB uint8 frame) for every `every`-th frame, starting at frame 0.

    Skipped frames are grabbed but not decoded. A source whose first frame cannot be decoded raises VideoError.
    """
    if every < 1:
        raise ValueError(f"every must be at least 1, got {every}")
    capture = open_video(source)
    try:
        fps = capture.get(cv2.CAP_PROP_FPS)
        index = 0
        while True:
            if index % every == 0:
                ok, frame = capture.read()
                if not ok:
                    break
                yield index, (index / fps if fps > 0 else None), cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            elif not capture.grab():
                break
            index += 1
        if index == 0:
            raise VideoError(f"{'webcam ' if isinstance(source, int) else ''}{source}: no frame could be decoded")
    finally:
        capture.release()


class Clock(Protocol):
    """What paces a live file: the time now and a wait until a moment, in seconds."""

    def now(self) -> float: ...

    def sleep_until(self, moment: float) -> None: ...


class WallClock:
    """The real clock."""

    def now(self) -> float:
        return time.perf_counter()

    def sleep_until(self, moment: float) -> None:
        time.sleep(max(0.0, moment - time.perf_counter()))


class FrameReader:
    """The frames of `read_frames`, decoded on a background thread so that decoding overlaps the model.

    `live` treats the source as live: a file is released at its own frame rate on `clock` (the wall clock unless
    given), and only the newest frame is kept, so a consumer too slow for the source skips frames instead of
    falling behind (a webcam is live by nature). Iterating yields (index, time, frame); an error of the source is
    raised there. `finished_reading` is set once every frame has been read and handed on or skipped.
    """

    def __init__(self, source: str | Path | int, every: int = 1, live: bool = False, buffer: int = 8,
                 clock: Clock | None = None) -> None:
        self.source, self.every, self.live = source, every, live
        self.clock = clock or WallClock()
        self.finished_reading = threading.Event()
        self._queue: queue.Queue = queue.Queue(maxsize=1 if live else buffer)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="pcnn-fer frame reader", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        start = self.clock.now()
        last: object = _END
        frames = read_frames(self.source, self.every)
        try:
            for item in frames:
                if self._stop.is_set():
                    break
                if self.live and not isinstance(self.source, int) and item[1] is not None:
                    self.clock.sleep_until(start + item[1])  # a file plays at its own pace
                self._put(item, drop_older=self.live)
        except Exception as error:  # handed to the consumer, which raises it in its own thread
            last = error
        finally:
            frames.close()
            self.finished_reading.set()
            self._put(last, drop_older=False)

    def _put(self, item: object, drop_older: bool) -> None:
        while not self._stop.is_set():
            if drop_older:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()  # the consumer did not take it in time: it is skipped
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[tuple[int, float | None, np.ndarray]]:
        try:
            while (item := self._queue.get()) is not _END:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            self.close()

    def close(self) -> None:
        """Stop reading and release the source."""
        self._stop.set()
        self._thread.join()


_END = object()


def predict_video(recognizer: Recognizer, source: str | Path | int, *, every: int = 1, batch_frames: int = 8,
                  smoothing: float | None = None, explain: bool = False, keep_frames: bool = False,
                  name: str | None = None, detect_every: int = 5, detect_side: int | None = 480,
                  realtime: bool = False, clock: Clock | None = None,
                  timings: Counter[str] | None = None) -> Iterator[FrameResult]:
    """Results for every `every`-th frame, in order; faces of `batch_frames` frames go through the model together.

    Faces are searched every `detect_every` processed frames on a frame downscaled to `detect_side` pixels and
    followed in between (`pcnn_fer.faces.follow`; detect_every=1, detect_side=None: a full search on every
    frame). They are tracked by box overlap (each record's `track`); `smoothing` (weight of the newest frame, in
    (0, 1]) averages each track's probabilities exponentially over time. `realtime` keeps up with the source:
    frames that arrive while the model is busy are skipped (each FrameResult's `skipped` counts those dropped
    just before it), on `clock` (the wall clock unless given). A webcam index is always read in real time.
    `timings` receives the seconds per stage (decode: waiting for frames; then the Recognizer's stages).
    """
    if batch_frames < 1:
        raise ValueError(f"batch_frames must be at least 1, got {batch_frames}")
    name = name or (f"webcam:{source}" if isinstance(source, int) else str(source))
    live = realtime or isinstance(source, int)
    follower = FaceFollower(recognizer.detector, detect_every=detect_every, detect_side=detect_side)
    tracker = FaceTracker(smoothing=smoothing)
    reader = FrameReader(source, every, live=live, clock=clock)
    frames = iter(reader)
    previous = -every
    try:
        while True:
            start = time.perf_counter()
            # Live frames go through one at a time: waiting to fill a batch would fall behind the source.
            chunk = [frame for _, frame in zip(range(1 if live else batch_frames), frames)]
            if timings is not None:
                timings["decode"] += time.perf_counter() - start
            if not chunk:
                return
            images = [image for _, _, image in chunk]
            per_frame = recognizer.predict_batch(images, explain=explain, names=[name] * len(images),
                                                 detector=follower, timings=timings)
            for (index, seconds, image), records in zip(chunk, per_frame):
                records = [replace(record, frame=index, time=seconds) for record in records]
                # A frame that failed (over the pixel limit, say) keeps its error record; faces go through the tracker.
                failed = [record for record in records if record.is_failure]
                skipped, previous = (index - previous) // every - 1, index
                yield FrameResult(index, seconds, failed + tracker.update(records), image if keep_frames else None,
                                  skipped)
    finally:
        reader.close()


def is_video(path: str | Path) -> bool:
    """Whether a path names a video by its suffix."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES
