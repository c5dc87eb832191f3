"""The plain record the Recognizer returns for each face (or for an input without one), what kind of record it
is, and the one way a batch of inputs, some unreadable, is run and put back in order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

import numpy as np

from pcnn_fer.faces.detect import PixelBox, json_fields


class Status(str, Enum):
    """What a record is: a face, an input that shows none, or an input that failed. Its value is the JSON field."""

    FACE = "face"
    NO_FACE = "no_face"
    ERROR = "error"


@dataclass(frozen=True, eq=False)
class FaceResult:
    """One face of one input: where it is, what it expresses, and which sense organs voted for it.

    An input that yielded no face, or could not be read, is one record with `face` None: `error` says why it
    failed, or is None when the input simply shows no face. `frame`/`time` are set for video frames and
    `track` when faces are tracked over time.

    `detection_score` is how sure the face detector is that the box holds a face (MTCNN: a probability; Haar:
    a count of merged raw detections), not how sure the model is of `label`: that is `confidence`, the label's
    own probability.

    `organ_contributions` maps each organ to its share of the vote for `label`: organ k's own softmax
    probability for the label divided by the sum of those probabilities over the five organs, so the shares
    sum to 1 and an organ above 1/5 backed the label more than the average organ did. It is what each organ
    branch says on its own, not where the main head looked; that is the Grad-CAM `heatmap`, and the two can
    disagree (pcnn_fer.inference.explain says what each measures).

    `heatmap` (Grad-CAM in [0, 1], crop pixels) and `matrix` (source -> crop, 2x3) serve drawing and are
    left out of `to_dict`.
    """

    input: str
    face: int | None = None
    box: PixelBox | None = None
    landmarks: tuple[tuple[float, float], ...] | None = None
    detection_score: float | None = None
    label: str | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    organ_contributions: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    frame: int | None = None
    time: float | None = None
    track: int | None = None
    heatmap: np.ndarray | None = field(default=None, repr=False)
    matrix: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def failure(cls, input: str, error: str, **video) -> FaceResult:
        """The one record of an input that could not be read or analysed, with `error` saying why."""
        return cls(input=input, error=error, **video)

    @classmethod
    def no_face(cls, input: str, **video) -> FaceResult:
        """The one record of an input (or video frame) that shows no face."""
        return cls(input=input, **video)

    @property
    def status(self) -> Status:
        """Which of the three kinds of record this is."""
        if self.error is not None:
            return Status.ERROR
        return Status.NO_FACE if self.face is None else Status.FACE

    @property
    def is_face(self) -> bool:
        """True for a face's record, False for a no-face or error record."""
        return self.status is Status.FACE

    @property
    def is_failure(self) -> bool:
        """True for the record of an input that failed."""
        return self.status is Status.ERROR

    @property
    def confidence(self) -> float | None:
        """The probability of the predicted label."""
        return None if self.label is None else self.probabilities[self.label]

    def to_dict(self) -> dict:
        """A JSON-ready dict; unknown landmark points become null, video fields appear only for video."""
        record: dict = {"input": self.input}
        if self.frame is not None:
            record["frame"] = self.frame
            record["time"] = None if self.time is None else round(self.time, 4)
        if self.track is not None:
            record["track"] = self.track
        record["status"] = self.status.value
        if self.error is not None:
            record["error"] = self.error
        if self.face is None:
            return record
        record["face"] = self.face
        where = json_fields(self.box, self.detection_score, self.landmarks)
        record.update(box=where["box"], detection_score=where["score"], landmarks=where["landmarks"])
        record.update({
            "label": self.label,
            "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
            "organ_contributions": {k: round(v, 6) for k, v in self.organ_contributions.items()},
        })
        return record


def failed(records: Sequence[FaceResult]) -> bool:
    """Whether these records of one input say that it failed (they are then its one error record)."""
    return bool(records) and records[0].is_failure


Item = TypeVar("Item")
Output = TypeVar("Output")


def split_readable(items: Sequence[Item], readable: Callable[[Item], bool]) -> tuple[list[int], list[Item]]:
    """(positions, items) of the readable inputs of a batch: what goes on to detection and the model."""
    positions = [i for i, item in enumerate(items) if readable(item)]
    return positions, [items[i] for i in positions]


def merge_back(placeholders: Sequence[Output], positions: Sequence[int], outputs: Sequence[Output]) -> list[Output]:
    """The batch in input order: the outputs of the readable inputs at their positions, the placeholders (error
    answers of the unreadable ones) elsewhere."""
    merged = list(placeholders)
    for position, output in zip(positions, outputs, strict=True):
        merged[position] = output
    return merged
