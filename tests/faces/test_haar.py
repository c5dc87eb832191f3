from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from pcnn_fer.faces import DEFAULT_TEMPLATE, create_detector
from pcnn_fer.faces.align import align, transform_points
from pcnn_fer.faces.haar import HaarDetector, cascade_directory


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def test_cascades_ship_with_opencv():
    assert (cascade_directory() / "haarcascade_frontalface_default.xml").is_file()
    assert (cascade_directory() / "haarcascade_eye.xml").is_file()


def test_nothing_on_a_blank_image():
    assert HaarDetector().detect(np.full((120, 160, 3), 127, dtype=np.uint8)) == []


@pytest.mark.network
def test_one_face_with_both_eyes_on_the_portrait(pyfeat_data):
    image = load_rgb(pyfeat_data / "single_face.jpg")
    faces = create_detector("haar").detect(image)
    assert len(faces) == 1
    face = faces[0]
    assert face.known_points.tolist() == [True, True, False, False, False]
    assert face.to_dict()["landmarks"]["nose"] is None
    left_eye, right_eye = face.landmarks[:2]
    x0, y0, x1, y1 = face.box
    assert x0 < left_eye[0] < (x0 + x1) / 2 < right_eye[0] < x1
    assert y0 < left_eye[1] < (y0 + y1) / 2 and y0 < right_eye[1] < (y0 + y1) / 2
    # The eye cascade and MTCNN's O-Net are independent: their eye centres agree within a tenth of the eye distance.
    mtcnn_eyes = create_detector("mtcnn").detect(image)[0].landmarks[:2]
    assert np.abs(face.landmarks[:2] - mtcnn_eyes).max() < 0.1 * np.linalg.norm(mtcnn_eyes[1] - mtcnn_eyes[0])
    crop, matrix = align(image, face.landmarks, size=112)
    np.testing.assert_allclose(transform_points(matrix, face.landmarks[:2]), DEFAULT_TEMPLATE.pixels(112)[:2],
                               atol=1e-6)


@pytest.mark.network
def test_no_face_on_the_mountain_drawing(pyfeat_data):
    assert create_detector("haar").detect(load_rgb(pyfeat_data / "free-mountain-vector-01.jpg")) == []
