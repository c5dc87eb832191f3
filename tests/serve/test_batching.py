"""The model thread: images arriving together share one predict_batch call, per (explain, flip_tta) group."""

from __future__ import annotations

from concurrent.futures import CancelledError

import numpy as np
import pytest

from pcnn_fer.serve.batching import Batcher


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
        def predict_batch(self, images, **options):
            raise RuntimeError("out of memory")

    batcher = Batcher(Broken(load_model(tiny_model_dir), detector="none"), queue_size=4, window_s=0.2, max_batch=8)
    futures = [batcher.submit(_pixels(i), "x") for i in range(2)]
    for future in futures:
        with pytest.raises(RuntimeError, match="out of memory"):
            future.result(timeout=30)
    batcher.close()
