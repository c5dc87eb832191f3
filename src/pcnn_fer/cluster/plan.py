"""How a corpus is cut into tasks: each video a task of its own (largest first, so that one long video starts early
and does not hold back the end of the run), photos in batches, inputs already written left out."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from pcnn_fer.inference.pipeline import WEBCAM_PREFIX
from pcnn_fer.inference.video import is_video


@dataclass(frozen=True)
class Task:
    """Inputs that one worker runs in one go and whose records go to one shard."""

    inputs: tuple[str, ...]

    @property
    def id(self) -> str:
        """A name that follows from the inputs alone, so that a resumed run names the same task the same way."""
        return hashlib.sha256("\0".join(self.inputs).encode()).hexdigest()[:16]


def plan_tasks(inputs: Sequence[str], done: Collection[str] = (), photos_per_task: int = 16) -> list[Task]:
    """The tasks for `inputs` that are not `done`: videos one by one, largest file first, then photos in batches of
    `photos_per_task` in their order."""
    if photos_per_task < 1:
        raise ValueError(f"photos_per_task must be at least 1, got {photos_per_task}")
    if any(path.startswith(WEBCAM_PREFIX) for path in inputs):
        raise ValueError("a corpus is made of files: a webcam has no end to wait for")
    left = [path for path in dict.fromkeys(inputs) if path not in done]
    videos = sorted((path for path in left if is_video(path)), key=_size, reverse=True)
    photos = [path for path in left if not is_video(path)]
    return ([Task((video,)) for video in videos]
            + [Task(tuple(photos[i:i + photos_per_task])) for i in range(0, len(photos), photos_per_task)])


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0  # a missing video fails fast in its task; its error record says why
