"""Face records read back from the files `predict` and `corpus` write: JSON lines, CSV, Parquet, and folders of
them (a corpus's shards), each record as the dict FaceResult.to_dict gives, whatever the format it was kept in."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from pcnn_fer.atomic import PARTIAL
from pcnn_fer.inference.writers import INTEGER_COLUMNS, LANDMARKS, SUFFIXES, TEXT_COLUMNS


class RecordFileError(ValueError):
    """A records file that cannot be read, with where and why."""


def record_files(paths: Iterable[str | Path]) -> list[Path]:
    """The record files among `paths`: files as given, folders searched for finished shards (sorted; files still
    being written, under their partial names, are left out)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES.values()
                            and PARTIAL not in p.name)
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such records file or folder")
    return found


def read_records(paths: Iterable[str | Path]) -> Iterator[dict]:
    """Every record of the given files and folders, in file order (the format follows each file's suffix)."""
    for path in record_files(paths):
        yield from _read_file(path)


def read_inputs(path: Path) -> set[str]:
    """The inputs that one records file has records of (for Parquet, read from that column alone)."""
    if path.suffix == SUFFIXES["parquet"]:
        import pyarrow.parquet as pq

        return set(pq.read_table(path, columns=["input"]).column("input").to_pylist())
    return {record["input"] for record in _read_file(path)}


def _read_file(path: Path) -> Iterator[dict]:
    if path.suffix == SUFFIXES["jsonl"]:
        with open(path) as lines:
            for number, line in enumerate(lines, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as error:
                        raise RecordFileError(f"{path}, line {number}: not a JSON record ({error.msg})") from error
    elif path.suffix == SUFFIXES["csv"]:
        with open(path, newline="") as stream:
            for row in csv.DictReader(stream):
                yield nested_record({key: _typed(key, value) for key, value in row.items()})
    elif path.suffix == SUFFIXES["parquet"]:
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches():
            yield from map(nested_record, batch.to_pylist())
    else:
        raise RecordFileError(f"{path}: not a records file (expected {', '.join(SUFFIXES.values())})")


def _typed(key: str, value: str) -> str | int | float | None:
    """A CSV cell as the value it was written from: empty is None."""
    if value == "":
        return None
    if key in TEXT_COLUMNS:
        return value
    return int(value) if key in INTEGER_COLUMNS else float(value)


def nested_record(row: dict) -> dict:
    """A flat row (CSV, Parquet) as the record dict it was written from; the inverse of writers.flat_row."""
    record: dict = {"input": row["input"]}
    if row.get("frame") is not None:
        record.update(frame=row["frame"], time=row.get("time"))
    if row.get("track") is not None:
        record["track"] = row["track"]
    record["status"] = row["status"]
    if row.get("error") is not None:
        record["error"] = row["error"]
    if row.get("face") is None:
        return record
    box = [row.get(key) for key in ("x0", "y0", "x1", "y1")]
    points = [(row.get(f"landmark{i}_x"), row.get(f"landmark{i}_y")) for i in range(LANDMARKS)]
    record.update(
        face=row["face"], box=None if None in box else box, detection_score=row.get("detection_score"),
        landmarks=None if all(x is None for x, _ in points) else [None if x is None else [x, y] for x, y in points],
        label=row.get("label"),
        probabilities={key[2:]: value for key, value in row.items() if key.startswith("p_") and value is not None},
        organ_contributions={key[6:]: value for key, value in row.items()
                             if key.startswith("organ_") and value is not None})
    return record
