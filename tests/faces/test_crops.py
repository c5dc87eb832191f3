import numpy as np
import pytest
from PIL import Image

from pcnn_fer.data.sample import Sample, SampleSet
from pcnn_fer.faces import align_box, align_detection, create_detector
from pcnn_fer.faces.crops import crop_faces


def test_a_frame_without_a_face_becomes_the_whole_frame_at_the_crop_size(tmp_path):
    frame = np.zeros((60, 80, 3), np.uint8)
    frame[:, :40] = 200  # left half light, right half dark: nothing a face detector takes for a face
    path = tmp_path / "frame.png"
    Image.fromarray(frame).save(path)
    samples = SampleSet("frames", ("happiness", "sadness"), [Sample(path, 1, "frame", "S1", {"split": "test"})])
    (cropped,) = crop_faces(samples, 32)
    assert cropped.source.shape == (32, 32, 3) and cropped.source.flags.c_contiguous
    assert (cropped.label, cropped.key, cropped.subject, dict(cropped.tags)) == (1, "frame", "S1", {"split": "test"})
    expected, _ = align_box(frame, (0.0, 0.0, 80.0, 60.0), size=32, margin=0.0)
    assert np.array_equal(cropped.source, expected)


@pytest.mark.network
def test_a_face_is_cropped_as_the_haar_detector_and_alignment_place_it(pyfeat_data):
    path = pyfeat_data / "single_face.jpg"
    samples = SampleSet("photos", ("neutral",), [Sample(path, 0, "single_face")])
    (cropped,) = crop_faces(samples, 64)
    image = np.asarray(Image.open(path).convert("RGB"))
    expected, _ = align_detection(image, create_detector("haar").detect(image)[0], size=64)
    assert np.array_equal(cropped.source, expected)
