"""Expressions over a video file or a webcam: every Nth frame, faces batched across frames, optional tracking."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.inference.results import FaceResult
from pcnn_fer.inference.tracking import FaceTracker

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")


class VideoError(ValueError):
    """A video that cannot be opened or decoded."""


@dataclass(frozen=True, eq=False)
class FrameResult:
    """The face records of one processed frame (or one error record); `image` (RGB) is kept only when asked
    for, e.g. to draw on it."""

    index: int
    time: float | None
    faces: list[FaceResult]
    image: np.ndarray | None = None


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


def predict_video(recognizer: Recognizer, source: str | Path | int, *, every: int = 1, batch_frames: int = 8,
                  smoothing: float | None = None, explain: bool = False, keep_frames: bool = False,
                  name: str | None = None) -> Iterator[FrameResult]:
    """Results for every `every`-th frame, in order; faces of `batch_frames` frames go through the model together.

    Faces are tracked by box overlap (each record's `track`); `smoothing` (weight of the newest frame, in
    (0, 1]) averages each track's probabilities exponentially over time.
    """
    if batch_frames < 1:
        raise ValueError(f"batch_frames must be at least 1, got {batch_frames}")
    name = name or (f"webcam:{source}" if isinstance(source, int) else str(source))
    tracker = FaceTracker(smoothing=smoothing)
    frames = read_frames(source, every)
    while True:
        start = time.perf_counter()
        chunk = [frame for _, frame in zip(range(batch_frames), frames)]
        recognizer.timings["decode"] += time.perf_counter() - start
        if not chunk:
            return
        images = [image for _, _, image in chunk]
        per_frame = recognizer.predict_batch(images, explain=explain, names=[name] * len(images))
        for (index, seconds, image), records in zip(chunk, per_frame):
            records = [replace(record, frame=index, time=seconds) for record in records]
            # A frame that failed (over the pixel limit, say) keeps its error record; faces go through the tracker.
            failed = [record for record in records if record.status == "error"]
            yield FrameResult(index, seconds, failed + tracker.update(records), image if keep_frames else None)


def is_video(path: str | Path) -> bool:
    """Whether a path names a video by its suffix."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES
