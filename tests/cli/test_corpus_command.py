"""`pcnn-fer corpus` refusals, each one line before any Ray starts (runs on Ray: tests/cluster)."""

from __future__ import annotations

import json
import sys

import pytest

from pcnn_fer.cli.main import EXIT_ERROR, main
from pcnn_fer.cli.predict import EXIT_NONE_PROCESSED


def test_flags_out_of_range_are_refused(tmp_path, capsys):
    for flags in (["--workers", "0"], ["--photos-per-task", "0"], ["--every", "0"]):
        assert main(["corpus", str(tmp_path), "--output", str(tmp_path / "out"), *flags]) == EXIT_ERROR
        assert "must be at least 1" in capsys.readouterr().err


def test_a_folder_without_media_processes_nothing(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("no photo here")
    assert main(["corpus", str(tmp_path), "--output", str(tmp_path / "out")]) == EXIT_NONE_PROCESSED
    assert "no images or videos found" in capsys.readouterr().err


def test_resuming_with_other_settings_is_refused_naming_them(tmp_path, capsys, face_crops):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "run.json").write_text(json.dumps({"format": "jsonl", "every": 1}))
    assert main(["corpus", str(face_crops[0]), "--output", str(tmp_path / "out"), "--every", "2"]) == EXIT_ERROR
    error = capsys.readouterr().err.strip()
    assert error.startswith("pcnn-fer corpus: error: ") and "every was 1, now 2" in error and "\n" not in error


def test_without_ray_the_error_says_which_extra_to_install(tmp_path, capsys, monkeypatch, face_crops):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    assert main(["corpus", str(face_crops[0]), "--output", str(tmp_path / "out")]) == EXIT_ERROR
    assert 'pip install "pcnn-fer[cluster]"' in capsys.readouterr().err


@pytest.fixture
def face_crops(tmp_path):
    from PIL import Image

    path = tmp_path / "crop.png"
    Image.new("RGB", (96, 96), (128, 100, 90)).save(path)
    return [path]
