"""The plain record the Recognizer returns for each face (or for an input without one)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pcnn_fer.faces.detect import PixelBox, json_fields


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

    @property
    def status(self) -> str:
        """"face", "no_face" or "error"."""
        if self.error is not None:
            return "error"
        return "no_face" if self.face is None else "face"

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
        record["status"] = self.status
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
