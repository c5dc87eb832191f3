"""Face records written as they come: JSON lines, CSV rows with one column per value, or Parquet row groups with
the CSV's columns (a corpus's shards, read by column)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TextIO

from pcnn_fer.inference.results import FaceResult
from pcnn_fer.models.organs import ORGANS

FORMATS = ("jsonl", "csv")  # formats a stream takes (standard output, a pipe)
FILE_FORMATS = (*FORMATS, "parquet")  # formats a file takes
SUFFIXES = {"jsonl": ".jsonl", "csv": ".csv", "parquet": ".parquet"}
LANDMARKS = 5  # points per face in the flat columns
INTEGER_COLUMNS = ("frame", "track", "face")
TEXT_COLUMNS = ("input", "status", "error", "label")


class RecordSink(Protocol):
    """Where a run's face records go, one input (or video frame) at a time."""

    def write(self, faces: Iterable[FaceResult]) -> None: ...


def flat_columns(class_names: Iterable[str]) -> list[str]:
    """The columns of a flat record (CSV, Parquet): one per value, a probability and an organ share each."""
    return (["input", "frame", "time", "track", "status", "error", "face", "x0", "y0", "x1", "y1", "detection_score"]
            + [f"landmark{i}_{axis}" for i in range(LANDMARKS) for axis in "xy"] + ["label"]
            + [f"p_{name}" for name in class_names] + [f"organ_{name}" for name in ORGANS])


def flat_row(record: dict) -> dict:
    """A record's dict (FaceResult.to_dict) as one flat row; values it lacks are absent."""
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


class RecordWriter:
    """Face records as JSON lines or CSV rows on a text stream.

    CSV needs its columns up front, hence the class names; the header is written on construction.
    """

    def __init__(self, stream: TextIO, fmt: str, class_names: Iterable[str]) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown record format {fmt!r}; expected one of {', '.join(FORMATS)}")
        self.stream = stream
        self.class_names = list(class_names)
        self._csv = None
        if fmt == "csv":
            self._csv = csv.DictWriter(stream, fieldnames=flat_columns(self.class_names), extrasaction="raise")
            self._csv.writeheader()

    def write(self, faces: Iterable[FaceResult]) -> None:
        """Write one record per face, then flush, so a reader following the stream sees each input when done."""
        for face in faces:
            record = face.to_dict()
            if self._csv is None:
                self.stream.write(json.dumps(record) + "\n")
            else:
                self._csv.writerow(flat_row(record))
        self.stream.flush()


class ParquetRecordWriter:
    """Face records as a Parquet file with the CSV's columns, typed, in row groups of `group_rows` records, so that
    a long video's records never wait in memory. Needs pyarrow (`pip install "pcnn-fer[cluster]"`)."""

    def __init__(self, path: str | Path, class_names: Iterable[str], group_rows: int = 4096) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns = flat_columns(class_names)
        self.schema = pa.schema([(name, pa.int64() if name in INTEGER_COLUMNS else
                                  pa.string() if name in TEXT_COLUMNS else pa.float64()) for name in columns])
        self.group_rows = group_rows
        self._rows: list[dict] = []
        self._file = pq.ParquetWriter(str(path), self.schema)

    def write(self, faces: Iterable[FaceResult]) -> None:
        """Add one row per face; a full row group goes to the file."""
        self._rows += [flat_row(face.to_dict()) for face in faces]
        if len(self._rows) >= self.group_rows:
            self._flush()

    def close(self) -> None:
        """Write the rows left and the file's footer (a Parquet file is readable only once closed)."""
        self._flush()
        self._file.close()

    def _flush(self) -> None:
        import pyarrow as pa

        if self._rows:
            self._file.write_table(pa.Table.from_pylist(self._rows, schema=self.schema))
            self._rows = []


@contextmanager
def record_file(path: str | Path, fmt: str, class_names: Iterable[str]) -> Iterator[RecordSink]:
    """A writer of records into the file `path` in `fmt` (one of FILE_FORMATS), finished when the block ends."""
    if fmt not in FILE_FORMATS:
        raise ValueError(f"unknown record format {fmt!r}; expected one of {', '.join(FILE_FORMATS)}")
    if fmt == "parquet":
        writer = ParquetRecordWriter(path, class_names)
        try:
            yield writer
        finally:
            writer.close()
        return
    with open(path, "w", newline="") as stream:
        yield RecordWriter(stream, fmt, class_names)
