"""Frames of real videos through the detector, read with OpenCV as a video pipeline would."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from pcnn_fer.faces import create_detector

pytestmark = pytest.mark.network


def every_nth_frame(path: Path, step: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), path
    frames, index = [], 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % step == 0:
                frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            index += 1
    finally:
        capture.release()
    return frames


@pytest.fixture(scope="module")
def detector():
    return create_detector("mtcnn")


def test_one_face_in_every_sampled_frame(pyfeat_data, detector):
    frames = every_nth_frame(pyfeat_data / "single_face.mp4", step=8)
    assert len(frames) == 9  # 72 frames
    per_frame = detector.detect_batch(frames)
    assert [len(faces) for faces in per_frame] == [1] * len(frames)
    assert all(faces[0].score > 0.9 for faces in per_frame)


def test_no_face_in_the_empty_video(pyfeat_data, detector):
    frames = every_nth_frame(pyfeat_data / "no_face.mp4", step=8)
    assert len(frames) >= 10  # about 96 readable frames
    assert detector.detect_batch(frames) == [[] for _ in frames]
