"""Follow faces from frame to frame by box overlap, smoothing their probabilities over time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from pcnn_fer.faces.detect import PixelBox, iou
from pcnn_fer.inference.results import FaceResult


@dataclass
class _Track:
    id: int
    box: PixelBox
    probabilities: np.ndarray
    missed: int = 0


class FaceTracker:
    """Greedy IoU matching of each frame's faces to live tracks, with optional exponential smoothing.

    `smoothing` is the weight of the newest frame (1 or None: no smoothing; 0.3: slow, steady labels).
    A track unseen for more than `max_missed` consecutive updates is dropped. Smoothing changes each
    record's probabilities and label; its organ contributions stay those of the frame's own prediction.
    """

    def __init__(self, iou_threshold: float = 0.3, smoothing: float | None = None, max_missed: int = 5) -> None:
        if smoothing is not None and not 0 < smoothing <= 1:
            raise ValueError(f"smoothing must lie in (0, 1], got {smoothing}")
        if not 0 < iou_threshold <= 1:
            raise ValueError(f"iou_threshold must lie in (0, 1], got {iou_threshold}")
        self.iou_threshold = iou_threshold
        self.smoothing = smoothing
        self.max_missed = max_missed
        self._tracks: list[_Track] = []
        self._next_id = 0

    def update(self, faces: Sequence[FaceResult]) -> list[FaceResult]:
        """The same face records with `track` set (and probabilities smoothed when asked)."""
        faces = [face for face in faces if face.is_face]
        pairs = sorted(((iou(track.box, face.box), t, f) for t, track in enumerate(self._tracks)
                        for f, face in enumerate(faces)), reverse=True)
        assigned: dict[int, _Track] = {}
        used_tracks: set[int] = set()
        for overlap, t, f in pairs:
            if overlap < self.iou_threshold:
                break
            if t not in used_tracks and f not in assigned:
                assigned[f] = self._tracks[t]
                used_tracks.add(t)
        for t, track in enumerate(self._tracks):
            track.missed = 0 if t in used_tracks else track.missed + 1
        self._tracks = [track for track in self._tracks if track.missed <= self.max_missed]
        out = []
        for f, face in enumerate(faces):
            probabilities = np.array(list(face.probabilities.values()))
            track = assigned.get(f)
            if track is None:
                track = _Track(self._next_id, face.box, probabilities)
                self._next_id += 1
                self._tracks.append(track)
            elif self.smoothing is not None:
                track.probabilities = self.smoothing * probabilities + (1 - self.smoothing) * track.probabilities
            else:
                track.probabilities = probabilities
            track.box = face.box
            names = list(face.probabilities)
            out.append(replace(face, track=track.id, probabilities=dict(zip(names, track.probabilities.tolist())),
                               label=names[int(track.probabilities.argmax())]))
        return out
