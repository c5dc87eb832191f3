"""Video: every Nth frame, the reader thread and live sources, faces batched across frames, tracking and smoothing,
unreadable files."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.inference.video import FrameReader, VideoError, predict_video, read_frames, video_info
from pcnn_fer.models.storage import load_model


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    return load_model(tiny_model_dir)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """An mp4 of 10 frames at 10 fps, 96 x 96: frame i is a distinct noise pattern on a red border."""
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (96, 96))
    for i in range(10):
        frame = np.zeros((96, 96, 3), dtype=np.uint8)
        frame[:, :, 0] = 255  # red, written in RGB order and converted for OpenCV below
        frame[16:80, 16:80] = np.random.default_rng(i).integers(0, 256, (64, 64, 3), dtype=np.uint8)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def test_every_nth_frame_is_read_in_rgb_with_its_time(clip):
    frames = list(read_frames(clip, every=3))
    assert [index for index, _, _ in frames] == [0, 3, 6, 9]
    assert [seconds for _, seconds, _ in frames] == pytest.approx([0.0, 0.3, 0.6, 0.9])
    corner = frames[0][2][:8, :8].reshape(-1, 3).mean(axis=0)
    assert corner[0] > 200 and corner[2] < 60  # red stays red: frames come out RGB
    info = video_info(clip)
    assert (info.width, info.height, info.frame_count) == (96, 96, 10) and info.fps == pytest.approx(10.0)


def test_predict_video_gives_results_per_processed_frame(model, clip):
    recognizer = Recognizer(model, detector=None)
    results = list(predict_video(recognizer, clip, every=4, batch_frames=2, keep_frames=True))
    assert [r.index for r in results] == [0, 4, 8]
    for result in results:
        (face,) = result.faces
        assert (face.frame, face.time, face.track, face.input) == (result.index, result.time, 0, str(clip))
        assert result.image.shape == (96, 96, 3)
    assert results[0].faces[0].probabilities != pytest.approx(results[1].faces[0].probabilities, abs=1e-4)


def test_smoothing_averages_each_track_over_time(model, clip):
    recognizer = Recognizer(model, detector=None)
    raw = [r.faces[0].probabilities for r in predict_video(recognizer, clip, every=5)]
    smoothed = [r.faces[0].probabilities for r in predict_video(recognizer, clip, every=5, smoothing=0.5)]
    assert smoothed[0] == pytest.approx(raw[0], abs=1e-6)
    assert smoothed[1] == pytest.approx({k: 0.5 * raw[1][k] + 0.5 * raw[0][k] for k in raw[0]}, abs=1e-6)


def test_a_frame_over_the_pixel_limit_is_an_error_record_and_the_video_goes_on(model, clip):
    recognizer = Recognizer(model, detector=None, max_pixels=90 * 90)
    results = list(predict_video(recognizer, clip, every=5))
    assert [r.index for r in results] == [0, 5]
    for result in results:
        (record,) = result.faces
        assert record.is_failure and "exceeds the limit" in record.error and record.frame == result.index


def test_unreadable_videos_raise_a_clear_error(bad_inputs, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    cases = {bad_inputs["unreadable_video"]: "cannot be opened as a video", empty: "empty file",
             tmp_path / "missing.mp4": "no such file"}
    for path, reason in cases.items():
        with pytest.raises(VideoError, match=reason) as caught:
            next(read_frames(path))
        assert str(path) in str(caught.value)
    with pytest.raises(ValueError, match="every"):
        next(read_frames(bad_inputs["unreadable_video"], every=0))


def readers() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "pcnn-fer frame reader"]


def test_the_reader_thread_gives_every_frame_in_order_and_stops_when_left_early(clip):
    assert [index for index, _, _ in FrameReader(clip, every=2)] == [0, 2, 4, 6, 8]
    frames = iter(FrameReader(clip))
    next(frames)
    frames.close()  # the consumer stops early: the thread must not linger
    assert readers() == []


class ManualClock:
    """A clock that moves only when the test says: the reader waits on it until the consumer advances it."""

    def __init__(self) -> None:
        self.time = 0.0
        self.waiting_for: float | None = None  # the moment the reader sleeps until, while it sleeps
        self.changed = threading.Condition()

    def now(self) -> float:
        return self.time

    def sleep_until(self, moment: float) -> None:
        with self.changed:
            self.waiting_for = moment
            self.changed.notify_all()
            assert self.changed.wait_for(lambda: self.time >= moment, timeout=30), "the clock was never advanced"
            self.waiting_for = None

    def advance(self, seconds: float, reader: FrameReader) -> None:
        """Move time on, then wait (30 s at most) until the reader has handed on every frame now due."""
        deadline = time.monotonic() + 30
        with self.changed:
            self.time += seconds
            self.changed.notify_all()
            # The reader's end is an Event, not this condition: look again every few milliseconds.
            while not ((self.waiting_for is not None and self.waiting_for > self.time)
                       or reader.finished_reading.is_set()):
                assert time.monotonic() < deadline, "the reader never caught up with the clock"
                self.changed.wait(0.005)


def _consume_slowly(reader: FrameReader, clock: ManualClock, seconds: float) -> list[int]:
    """The frame indices a consumer that needs `seconds` per frame takes."""
    clock.advance(0.0, reader)
    seen = []
    for index, _, _ in reader:
        seen.append(index)
        clock.advance(seconds, reader)
    return seen


def test_a_live_source_too_fast_for_its_consumer_skips_frames_and_never_falls_behind(clip):
    clock = ManualClock()
    seen = _consume_slowly(FrameReader(clip, live=True, clock=clock), clock, 0.25)  # 10 fps: a frame per 100 ms
    # Each time the consumer comes back, it gets the newest frame due, never an older one in turn.
    assert seen == [0, 2, 5, 7, 9]


def test_realtime_prediction_counts_the_frames_it_skipped(model, clip, monkeypatch):
    clock = ManualClock()
    readers: list[FrameReader] = []

    class Observed(FrameReader):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            readers.append(self)

    monkeypatch.setattr("pcnn_fer.inference.video.FrameReader", Observed)
    recognizer = Recognizer(model, detector=None)
    slow = recognizer.predict_batch

    def predict_slowly(*args, **options):  # the model takes 250 ms of the source's time per frame
        clock.advance(0.25, readers[0])
        return slow(*args, **options)

    recognizer.predict_batch = predict_slowly
    results = list(predict_video(recognizer, clip, realtime=True, clock=clock))
    assert [r.index for r in results] == [0, 2, 5, 7, 9]
    assert [r.skipped for r in results] == [0, 1, 2, 1, 1]


def test_an_error_of_the_source_reaches_the_consumer(bad_inputs):
    with pytest.raises(VideoError, match="cannot be opened as a video"):
        list(FrameReader(bad_inputs["unreadable_video"]))
    assert readers() == []


@pytest.mark.network
def test_the_real_single_face_video_has_one_tracked_face_per_frame(model, pyfeat_data):
    recognizer = Recognizer(model, detector="mtcnn")
    results = list(predict_video(recognizer, pyfeat_data / "single_face.mp4", every=6))
    assert [r.index for r in results] == list(range(0, 72, 6))
    assert all(len(r.faces) == 1 for r in results)
    assert {r.faces[0].track for r in results} == {0}
    assert all(r.faces[0].box[2] - r.faces[0].box[0] > 50 for r in results)


@pytest.mark.network
def test_the_real_no_face_video_has_no_face(model, pyfeat_data):
    recognizer = Recognizer(model, detector="mtcnn")
    results = list(predict_video(recognizer, pyfeat_data / "no_face.mp4", every=3))
    assert len(results) >= 30  # the container claims 98 frames; 95 decode here
    assert [face for r in results for face in r.faces] == []
