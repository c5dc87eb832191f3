"""Faces found on several threads at once, each with its own detector; then the model thread: images arriving
together share one classify call, per (explain, flip_tta) group."""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError

import numpy as np
import pytest

from pcnn_fer.faces.detect import Detection
from pcnn_fer.serve.batching import Batcher, QueueFull


def _pixels(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (40, 40, 3), dtype=np.uint8)


def test_images_queued_together_go_through_the_model_in_one_call(recognizer):
    batcher = Batcher(recognizer, queue_size=16, window_s=0.5, max_batch=32)
    recognizer.batches.clear()
    recognizer.gate.clear()  # held, so that every image is queued before the first batch closes
    futures = [batcher.submit(_pixels(i), f"image{i}") for i in range(6)]
    futures.append(batcher.submit(_pixels(9), "explained", explain=True))
    recognizer.gate.set()
    answers = [future.result(timeout=30) for future in futures]
    batcher.close()
    assert sorted(recognizer.batches) == [1, 6] and [a.batch_size for a in answers] == [6] * 6 + [1]
    expected = recognizer.predict_batch([_pixels(i) for i in range(6)], names=[f"image{i}" for i in range(6)])
    for answer, faces in zip(answers, expected):
        assert [f.to_dict() for f in answer.faces] == [f.to_dict() for f in faces]
    assert answers[-1].faces[0].heatmap is not None and answers[0].faces[0].heatmap is None


def test_max_batch_splits_a_crowd_and_a_cancelled_image_is_dropped(recognizer):
    batcher = Batcher(recognizer, queue_size=16, window_s=0.5, max_batch=4)
    recognizer.batches.clear()
    recognizer.gate.clear()
    futures = [batcher.submit(_pixels(i), f"image{i}") for i in range(9)]
    assert futures[8].cancel()
    recognizer.gate.set()
    for future in futures[:8]:
        future.result(timeout=30)
    with pytest.raises(CancelledError):
        futures[8].result()
    batcher.close()
    assert recognizer.batches[:2] == [4, 4] and sum(recognizer.batches) == 8


def test_a_model_failure_reaches_every_waiting_request(tiny_model_dir):
    from pcnn_fer.inference.recognizer import Recognizer
    from pcnn_fer.models.storage import load_model

    class Broken(Recognizer):
        def classify(self, faces, **options):
            raise RuntimeError("out of memory")

    batcher = Batcher(Broken(load_model(tiny_model_dir), detector="none"), queue_size=4, window_s=0.2, max_batch=8)
    futures = [batcher.submit(_pixels(i), "x") for i in range(2)]
    for future in futures:
        with pytest.raises(RuntimeError, match="out of memory"):
            future.result(timeout=30)
    batcher.close()


class MeetingDetector:
    """The whole image as one face, found only once `parties` detectors are detecting at the same moment."""

    name = "meeting"

    def __init__(self, barrier: threading.Barrier, used: list) -> None:
        self.barrier, self.used = barrier, used

    def detect(self, image):
        self.used.append((id(self), threading.current_thread().name))
        self.barrier.wait()  # BrokenBarrierError after its timeout unless another thread detects at the same time
        height, width = image.shape[:2]
        return [Detection((0.0, 0.0, float(width), float(height)), 0.9, None)]

    def detect_batch(self, images):
        return [self.detect(image) for image in images]


def test_faces_are_found_on_several_threads_at_once_each_with_its_own_detector(tiny_model_dir, monkeypatch):
    from pcnn_fer.inference.recognizer import Recognizer
    from pcnn_fer.models.storage import load_model

    recognizer = Recognizer(load_model(tiny_model_dir), detector="none")
    barrier, used = threading.Barrier(2, timeout=20), []
    monkeypatch.setattr(recognizer, "spare_detector", lambda: MeetingDetector(barrier, used))
    batcher = Batcher(recognizer, queue_size=8, window_s=0.05, max_batch=8, detect_threads=2)
    answers = [future.result(timeout=60) for future in [batcher.submit(_pixels(i), f"image{i}") for i in range(4)]]
    batcher.close()
    assert [len(answer.faces) for answer in answers] == [1] * 4 and all(a.detect_s > 0 for a in answers)
    detectors = {detector for detector, _ in used}
    assert len(detectors) == 2 and len({thread for _, thread in used}) == 2  # one detector per finder thread


def test_a_full_server_refuses_and_makes_room_as_answers_leave(recognizer):
    batcher = Batcher(recognizer, queue_size=2, window_s=0.05, max_batch=8)
    recognizer.gate.clear()
    futures = [batcher.submit(_pixels(i), f"image{i}") for i in range(2)]
    with pytest.raises(QueueFull, match="already holds 2 images"):
        batcher.submit(_pixels(5), "one too many")
    recognizer.gate.set()
    for future in futures:
        future.result(timeout=30)
    batcher.submit(_pixels(6), "room again").result(timeout=30)
    assert batcher.depth == 0
    batcher.close()


def test_a_failed_detection_is_the_images_error_record_and_its_neighbours_are_answered(tiny_model_dir):
    from pcnn_fer.inference.recognizer import Recognizer
    from pcnn_fer.models.storage import load_model

    class Flaky:
        name = "flaky"

        def detect_batch(self, images):
            if images[0].mean() < 1:
                raise RuntimeError("decoder state lost")
            return [[Detection((0.0, 0.0, 40.0, 40.0), 0.9, None)] for _ in images]

        def detect(self, image):
            return self.detect_batch([image])[0]

    batcher = Batcher(Recognizer(load_model(tiny_model_dir), detector=Flaky()), queue_size=4, window_s=0.2,
                      max_batch=8)
    black, fine = batcher.submit(np.zeros((40, 40, 3), np.uint8), "black"), batcher.submit(_pixels(1), "fine")
    (record,) = black.result(timeout=30).faces
    assert record.error == "black: face detection failed (decoder state lost)"
    assert fine.result(timeout=30).faces[0].is_face
    batcher.close()
