"""Reports written from records files: a plot and a CSV per person and one page, the same from JSON lines, CSV
and a folder of Parquet shards; the annotated video found and shown."""

from __future__ import annotations

import csv

import pytest
from PIL import Image

from pcnn_fer.inference.writers import record_file
from pcnn_fer.report.build import write_report


def _write(records, path, fmt):
    path.parent.mkdir(parents=True, exist_ok=True)
    with record_file(path, fmt, records[0].probabilities) as sink:
        sink.write(records)
    return path


def _tables(report) -> dict:
    folder = report.page.parent
    return {person.table: list(csv.DictReader(open(folder / person.table))) for person in report.people}


def test_a_report_has_a_plot_and_a_summary_per_person_and_one_page(tmp_path, video_records):
    report = write_report([_write(video_records, tmp_path / "faces.jsonl", "jsonl")], tmp_path / "report",
                          show_progress=False)
    assert [person.plot for person in report.people] == ["clip/person-0.png", "clip/person-1.png",
                                                         "other/person-0.png"]
    for person in report.people:
        with Image.open(report.page.parent / person.plot) as plot:
            assert plot.format == "PNG" and plot.width > 800
    table = _tables(report)["clip/person-0.csv"]
    assert [row["expression"] for row in table] == list(video_records[0].probabilities)
    assert float(table[1]["share_of_time"]) == pytest.approx(0.6)
    page = report.page.read_text()
    assert page.count("<img class='timeline'") == 3 and "<video" not in page


def test_the_report_is_the_same_from_csv_and_from_a_folder_of_parquet_shards(tmp_path, video_records):
    expected = _tables(write_report([_write(video_records, tmp_path / "faces.jsonl", "jsonl")], tmp_path / "a",
                                    show_progress=False))
    from_csv = write_report([_write(video_records, tmp_path / "faces.csv", "csv")], tmp_path / "b",
                            show_progress=False)
    _write(video_records[:12], tmp_path / "shards" / "shard-1.parquet", "parquet")
    _write(video_records[12:], tmp_path / "shards" / "shard-2.parquet", "parquet")
    from_shards = write_report([tmp_path / "shards"], tmp_path / "c", show_progress=False)
    assert _tables(from_csv) == _tables(from_shards) == expected


def test_an_annotated_copy_is_shown_above_its_people(tmp_path, video_records):
    import cv2
    import numpy as np

    (tmp_path / "annotated").mkdir()
    writer = cv2.VideoWriter(str(tmp_path / "annotated" / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for i in range(10):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()
    report = write_report([_write(video_records, tmp_path / "faces.jsonl", "jsonl")], tmp_path / "report",
                          annotated=tmp_path / "annotated", show_progress=False)
    copy = tmp_path / "report" / "clip" / "annotated.webm"
    assert report.videos == {"clip.mp4": copy, "other.mp4": None}
    assert "src='clip/annotated.webm'" in report.page.read_text()
    video, frames = cv2.VideoCapture(str(copy)), []
    while (frame := video.read()[1]) is not None:
        frames.append(frame)
    assert len(frames) == 10 and frames[0].shape == (48, 64, 3)


def test_records_without_video_faces_are_refused(tmp_path, video_records):
    with pytest.raises(ValueError, match="no tracked faces"):
        write_report([_write(video_records[-3:], tmp_path / "faces.jsonl", "jsonl")], tmp_path / "r")
    with pytest.raises(FileNotFoundError, match="missing.jsonl"):
        write_report([tmp_path / "missing.jsonl"], tmp_path / "r")
