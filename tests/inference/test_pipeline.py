"""The prediction run: inputs from folders and globs, images batched, videos, a record per face or failure."""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pytest
from PIL import Image

import pcnn_fer.inference.pipeline as pipeline
from pcnn_fer.inference.draw import Annotator
from pcnn_fer.inference.pipeline import (
    PredictionInterrupted,
    PredictionSummary,
    PredictOptions,
    expand_inputs,
    run_predictions,
)
from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.inference.writers import RecordWriter


@pytest.fixture(scope="module")
def crops(tiny_model_dir) -> Recognizer:
    """Takes each image as an aligned face crop, so that every readable input has one face."""
    return Recognizer.from_pretrained(tiny_model_dir, detector=None)


def write_image(path, seed: int | None, size: int = 96):
    """Noise drawn from `seed`, or plain grey (nothing a detector takes for a face) when it is None."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = (np.full((size, size, 3), 200, dtype=np.uint8) if seed is None
              else np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))
    Image.fromarray(pixels).save(path)
    return path


def write_video(path, frames: int, seed: int | None = None):
    """An mp4 at 10 fps, 96 x 96: a noise pattern per frame drawn from seed + i, or plain grey frames."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (96, 96))
    for i in range(frames):
        writer.write(np.full((96, 96, 3), 200, dtype=np.uint8) if seed is None
                     else np.random.default_rng(seed + i).integers(0, 256, (96, 96, 3), dtype=np.uint8))
    writer.release()
    return path


def run(recognizer: Recognizer, inputs: list[str], annotator: Annotator | None = None,
        **options) -> tuple[PredictionSummary, list[dict]]:
    """The summary of a run and the records it wrote, as dicts."""
    stream = io.StringIO()
    summary = run_predictions(recognizer, inputs, RecordWriter(stream, "jsonl", recognizer.class_names), annotator,
                              PredictOptions(show_progress=False, **options))
    return summary, [json.loads(line) for line in stream.getvalue().splitlines()]


def test_folders_are_searched_for_media_globs_expanded_and_unmatched_paths_kept(tmp_path):
    folder = tmp_path / "photos"
    write_image(folder / "b.png", 0)
    write_video(folder / "nested" / "a.mp4", 1)
    (folder / "notes.txt").write_text("not an input")
    for name in ("x2.jpg", "x1.jpg"):
        write_image(tmp_path / name, 1)
    paths = [str(folder), str(tmp_path / "x*.jpg"), str(tmp_path / "none*.png"), str(tmp_path / "gone.png"),
             str(folder / "b.png")]
    assert expand_inputs(paths) == [str(folder / "b.png"), str(folder / "nested" / "a.mp4"), str(tmp_path / "x1.jpg"),
                                    str(tmp_path / "x2.jpg"), str(tmp_path / "none*.png"), str(tmp_path / "gone.png")]


def test_inputs_without_a_face_and_unreadable_ones_get_one_record_each(tiny_model_dir, tmp_path):
    folder = tmp_path / "inputs"
    write_video(folder / "blank.mp4", 3)
    write_image(folder / "blank.png", None)
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"not really a video" * 10)
    (folder / "empty.jpg").write_bytes(b"")
    inputs = expand_inputs([str(folder)])
    summary, records = run(Recognizer.from_pretrained(tiny_model_dir, detector="haar"), inputs)
    assert summary == PredictionSummary(ok=2, failed=2, faces=0)
    assert [(r["input"], r["status"]) for r in records] == [
        (inputs[0], "no_face"), (inputs[1], "no_face"), (inputs[2], "error"), (inputs[3], "error")]
    assert all(r["input"] in r["error"] for r in records[2:])


def test_records_follow_the_inputs_across_image_batches_and_videos(crops, tmp_path):
    images = [str(write_image(tmp_path / f"face{i}.png", i)) for i in range(3)]
    clip = str(write_video(tmp_path / "clip.mp4", 10, seed=5))
    missing = str(tmp_path / "missing.png")
    summary, records = run(crops, [images[0], images[1], clip, images[2], missing], batch_size=2, every=4)
    assert summary == PredictionSummary(ok=4, failed=1, faces=6)
    assert [(r["input"], r.get("frame"), r["status"]) for r in records] == [
        (images[0], None, "face"), (images[1], None, "face"), (clip, 0, "face"), (clip, 4, "face"),
        (clip, 8, "face"), (images[2], None, "face"), (missing, None, "error")]


class RecordedBar:
    """Stands in for the progress bar and remembers how it was made and advanced."""

    made: list[RecordedBar] = []

    def __init__(self, iterable, total=None, description="", enabled=True, unit="it"):
        self.total, self.enabled, self.unit, self.steps = total, enabled, unit, 0
        RecordedBar.made.append(self)

    def update(self, steps: int = 1) -> None:
        self.steps += steps

    def set_postfix_str(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_bar_advances_per_input_and_per_processed_video_frame(crops, tmp_path, monkeypatch):
    clip = str(write_video(tmp_path / "clip.mp4", 10, seed=0))
    RecordedBar.made = []
    monkeypatch.setattr(pipeline, "progress", RecordedBar)
    run_predictions(crops, [clip], RecordWriter(io.StringIO(), "jsonl", crops.class_names),
                    options=PredictOptions(every=2))
    assert [(bar.unit, bar.total, bar.steps, bar.enabled) for bar in RecordedBar.made] == [
        ("input", 1, 1, True), ("frame", 5, 5, True)]
    RecordedBar.made = []
    run(crops, [clip])
    assert [bar.enabled for bar in RecordedBar.made] == [False, False]


def test_annotating_decodes_each_image_once_and_changes_no_record(crops, bad_inputs, tmp_path, monkeypatch):
    import pcnn_fer.data.images as images_module
    import pcnn_fer.inference.recognizer as recognizer_module

    photos = [str(write_image(tmp_path / f"face{i}.png", i)) for i in range(3)] + [str(bad_inputs["zero_byte"])]
    plain = run(crops, photos, batch_size=2)
    decoded_paths = []
    load_image = recognizer_module.load_image

    def counting_load_image(source, **options):
        if not isinstance(source, np.ndarray):
            decoded_paths.append(str(source))
        return load_image(source, **options)

    monkeypatch.setattr(recognizer_module, "load_image", counting_load_image)
    monkeypatch.setattr(images_module, "load_image", counting_load_image)
    annotated = tmp_path / "annotated"
    assert run(crops, photos, Annotator(annotated), batch_size=2) == plain
    assert decoded_paths == photos
    assert sorted(p.name for p in annotated.iterdir()) == ["face0.png", "face1.png", "face2.png"]


def test_annotated_copies_keep_their_format_or_become_png_and_are_numbered_on_shared_stems(crops, tmp_path):
    inputs = [str(write_image(tmp_path / folder / name, i))
              for i, (folder, name) in enumerate([("a", "x.jpg"), ("b", "x.png"), ("c", "x.png"), ("d", "x.gif")])]
    clip = str(write_video(tmp_path / "e" / "x.mp4", 10, seed=3))
    annotated = tmp_path / "annotated"
    run(crops, [*inputs, clip], Annotator(annotated, explain=True), every=4)
    assert sorted(p.name for p in annotated.iterdir()) == ["x-2.png", "x-3.png", "x.jpg", "x.mp4", "x.png"]
    assert Image.open(annotated / "x-3.png").size == (96, 96)
    capture = cv2.VideoCapture(str(annotated / "x.mp4"))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 3 and capture.get(cv2.CAP_PROP_FPS) == pytest.approx(2.5)


class InterruptingStream(io.StringIO):
    """Records as text, until the `after`-th write, which Ctrl-C interrupts."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    def write(self, text: str) -> int:
        self.after -= 1
        if self.after == 0:
            raise KeyboardInterrupt
        return super().write(text)


def test_an_interrupted_video_leaves_its_annotated_copy_under_the_partial_name_and_says_how_far(crops, tmp_path):
    photo = str(write_image(tmp_path / "face.png", 0))
    clip = str(write_video(tmp_path / "clip.mp4", 10, seed=1))
    annotated = tmp_path / "annotated"
    stream = InterruptingStream(after=5)  # the photo's record, then 3 of the clip's frames
    with pytest.raises(PredictionInterrupted) as stopped:
        run_predictions(crops, [photo, clip, photo], RecordWriter(stream, "jsonl", crops.class_names),
                        Annotator(annotated), PredictOptions(show_progress=False, batch_size=1))
    stop = stopped.value
    assert isinstance(stop, KeyboardInterrupt)  # callers that only know Ctrl-C still see one
    assert (stop.current, stop.frames, stop.summary) == (clip, 3, PredictionSummary(ok=1, faces=1))
    assert stop.unfinished == (annotated / "clip.partial.mp4",)
    assert sorted(p.name for p in annotated.iterdir()) == ["clip.partial.mp4", "face.png"]
    capture = cv2.VideoCapture(str(stop.unfinished[0]))  # finished as a file: it plays, with the frames done
    assert capture.isOpened() and capture.get(cv2.CAP_PROP_FRAME_COUNT) == 3
    assert len(stream.getvalue().splitlines()) == 4


def test_an_interrupted_image_batch_names_the_first_image_not_done(crops, tmp_path):
    photos = [str(write_image(tmp_path / f"face{i}.png", i)) for i in range(4)]
    with pytest.raises(PredictionInterrupted) as stopped:
        run_predictions(crops, photos, RecordWriter(InterruptingStream(after=4), "jsonl", crops.class_names),
                        options=PredictOptions(show_progress=False, batch_size=2))
    assert (stopped.value.current, stopped.value.frames, stopped.value.summary.ok) == (photos[3], None, 3)


@pytest.mark.parametrize("options", [dict(every=0), dict(batch_size=0), dict(smooth=0.0), dict(smooth=1.5)])
def test_options_out_of_range_are_refused(options):
    with pytest.raises(ValueError, match="at least 1|must lie in"):
        PredictOptions(**options)
