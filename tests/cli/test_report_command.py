"""`pcnn-fer report`: the page and where it is, or one line saying why there is none."""

from __future__ import annotations

from pcnn_fer.cli.main import EXIT_ERROR, main
from pcnn_fer.inference.results import FaceResult
from pcnn_fer.inference.writers import record_file

CLASSES = ("neutral", "happiness")


def _records(path, records):
    with record_file(path, "jsonl", CLASSES) as sink:
        sink.write(records)
    return str(path)


def test_the_report_of_a_video_says_where_its_page_is(tmp_path, capsys):
    faces = [FaceResult(input="clip.mp4", face=0, label="happiness", probabilities={"neutral": 0.3, "happiness": 0.7},
                        frame=i, time=i / 25, track=0) for i in range(5)]
    assert main(["report", _records(tmp_path / "faces.jsonl", faces), "--output", str(tmp_path / "report")]) == 0
    assert f"1 tracked person(s) in 1 video(s); open {tmp_path / 'report' / 'index.html'}" in capsys.readouterr().err
    assert (tmp_path / "report" / "clip" / "person-0.png").is_file()


def test_records_of_photos_alone_are_refused_in_one_line(tmp_path, capsys):
    photo = [FaceResult(input="a.jpg", face=0, label="neutral", probabilities={"neutral": 0.9, "happiness": 0.1})]
    assert main(["report", _records(tmp_path / "faces.jsonl", photo), "--output", str(tmp_path / "r")]) == EXIT_ERROR
    assert "no tracked faces in video records" in capsys.readouterr().err
