"""Record writers: JSON lines as to_dict gives them, CSV with one column per value."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from pcnn_fer.inference.results import FaceResult
from pcnn_fer.inference.writers import RecordWriter
from pcnn_fer.models.organs import ORGANS

CLASSES = ("neutral", "happiness", "sadness")
FACE = FaceResult(input="a.jpg", face=0, box=(10.0, 20.0, 90.5, 110.0), detection_score=0.99, label="happiness",
                  probabilities={"neutral": 0.2, "happiness": 0.7, "sadness": 0.1},
                  organ_contributions={organ: 0.2 for organ in ORGANS},
                  landmarks=((30.0, 50.0), (70.0, 50.0), (np.nan, np.nan), (35.0, 90.0), (65.0, 90.0)))
RECORDS = [FACE, FaceResult(input="b.png"), FaceResult(input="c.jpg", error="c.jpg: empty file (0 bytes)")]


def test_json_lines_are_the_records_dicts_one_per_line():
    stream = io.StringIO()
    RecordWriter(stream, "jsonl", CLASSES).write(RECORDS)
    assert [json.loads(line) for line in stream.getvalue().splitlines()] == [r.to_dict() for r in RECORDS]
    assert json.loads(stream.getvalue().splitlines()[0])["landmarks"][2] is None


def test_csv_has_a_column_per_value_and_leaves_missing_ones_empty():
    stream = io.StringIO()
    writer = RecordWriter(stream, "csv", CLASSES)
    writer.write(RECORDS[:1])
    writer.write(RECORDS[1:])
    reader = csv.DictReader(io.StringIO(stream.getvalue()))
    rows = list(reader)
    assert reader.fieldnames == (
        ["input", "frame", "time", "track", "status", "error", "face", "x0", "y0", "x1", "y1",
         "detection_score"]
        + [f"landmark{i}_{axis}" for i in range(5) for axis in "xy"] + ["label"]
        + [f"p_{name}" for name in CLASSES] + [f"organ_{name}" for name in ORGANS])
    face, no_face, failed = rows
    assert (face["status"], face["x1"], face["detection_score"], face["label"]) == ("face", "90.5", "0.99", "happiness")
    assert (face["landmark0_x"], face["landmark2_x"], face["p_happiness"]) == ("30.0", "", "0.7")
    assert float(face[f"organ_{ORGANS[0]}"]) == pytest.approx(0.2)
    assert no_face["status"] == "no_face" and no_face["x0"] == no_face["p_neutral"] == ""
    assert (failed["status"], failed["error"]) == ("error", "c.jpg: empty file (0 bytes)")


def test_csv_writes_its_header_before_any_record():
    stream = io.StringIO()
    RecordWriter(stream, "csv", CLASSES)
    assert stream.getvalue().startswith("input,frame,time,track,status,error,face,")


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="xml"):
        RecordWriter(io.StringIO(), "xml", CLASSES)
