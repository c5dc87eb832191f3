"""A copy of an annotated video that browsers play: the mp4 files OpenCV writes (MPEG-4 part 2) open in players
but not in Chromium or Firefox, which do play VP8 in WebM, an encoder OpenCV's own FFmpeg has."""

from __future__ import annotations

from pathlib import Path

import cv2

from pcnn_fer.atomic import atomic_path
from pcnn_fer.progress import progress

BROWSER_SUFFIX = ".webm"


def browser_copy(source: Path, target: Path, show_progress: bool = True) -> Path:
    """Re-encode the video `source` as VP8 WebM at `target` (frame by frame, at the source's rate); returns
    `target`. About real time on two cores for 640x360."""
    reader = cv2.VideoCapture(str(source))
    try:
        if not reader.isOpened():
            raise OSError(f"{source}: cannot be opened as a video")
        fps = reader.get(cv2.CAP_PROP_FPS) or 25.0
        size = (int(reader.get(cv2.CAP_PROP_FRAME_WIDTH)), int(reader.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        count = int(reader.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        with atomic_path(target) as partial:
            writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"VP80"), fps, size)
            if not writer.isOpened():
                raise OSError(f"{partial}: this OpenCV cannot write VP8 WebM")
            bar = progress(None, count, f"browser copy of {source.name}", enabled=show_progress, unit="frame")
            try:
                while True:
                    ok, frame = reader.read()
                    if not ok:
                        break
                    writer.write(frame)
                    bar.update(1)
            finally:
                writer.release()
                bar.close()
    finally:
        reader.release()
    return target
