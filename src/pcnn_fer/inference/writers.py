"""Face records written as they come: JSON lines, or CSV rows with one column per value."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import TextIO

from pcnn_fer.inference.results import FaceResult
from pcnn_fer.models.organs import ORGANS

FORMATS = ("jsonl", "csv")


class RecordWriter:
    """Face records as JSON lines or CSV rows (probabilities and organ shares one column each).

    CSV needs its columns up front, hence the class names; the header is written on construction.
    """

    def __init__(self, stream: TextIO, fmt: str, class_names: Iterable[str]) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown record format {fmt!r}; expected one of {', '.join(FORMATS)}")
        self.stream = stream
        self.class_names = list(class_names)
        self._csv = None
        if fmt == "csv":
            columns = (["input", "frame", "time", "track", "status", "error", "face", "x0", "y0", "x1", "y1",
                        "detection_score"]
                       + [f"landmark{i}_{axis}" for i in range(5) for axis in "xy"] + ["label"]
                       + [f"p_{name}" for name in self.class_names] + [f"organ_{name}" for name in ORGANS])
            self._csv = csv.DictWriter(stream, fieldnames=columns, extrasaction="raise")
            self._csv.writeheader()

    def write(self, faces: Iterable[FaceResult]) -> None:
        """Write one record per face, then flush, so a reader following the stream sees each input when done."""
        for face in faces:
            record = face.to_dict()
            if self._csv is None:
                self.stream.write(json.dumps(record) + "\n")
            else:
                self._csv.writerow(self._row(record))
        self.stream.flush()

    def _row(self, record: dict) -> dict:
        row = {key: record.get(key) for key in ("input", "frame", "time", "track", "status", "error", "face",
                                                "detection_score", "label")}
        if record.get("box"):
            row.update(zip(("x0", "y0", "x1", "y1"), record["box"]))
        for i, point in enumerate(record.get("landmarks") or []):
            if point is not None:
                row[f"landmark{i}_x"], row[f"landmark{i}_y"] = point
        row.update({f"p_{k}": v for k, v in record.get("probabilities", {}).items()})
        row.update({f"organ_{k}": v for k, v in record.get("organ_contributions", {}).items()})
        return row
