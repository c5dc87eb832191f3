"""The Recognizer on faces given by the caller: inputs of every kind, batching, flip TTA, bad input."""

from __future__ import annotations

import io
import json
import threading
import warnings
from collections import Counter

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from pcnn_fer.data.images import ImageError
from pcnn_fer.faces.align import DEFAULT_TEMPLATE
from pcnn_fer.faces.detect import Detection
from pcnn_fer.faces.framing import FaceFraming
from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.models import create_model
from pcnn_fer.models.organs import ORGANS
from pcnn_fer.models.pretrained import Pretrained
from pcnn_fer.models.storage import load_model

BAD_IMAGES = ("zero_byte", "truncated_jpeg", "text_as_jpg", "bomb_png", "animated_gif")


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    return load_model(tiny_model_dir)


@pytest.fixture(scope="module")
def recognizer(model) -> Recognizer:
    return Recognizer(model, detector=None)


def face_pixels(seed: int, size: int = 96) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def expected_probabilities(model, crop: np.ndarray) -> np.ndarray:
    """The model run by hand on a crop normalised with its config's mean and std."""
    config = model.config
    tensor = torch.from_numpy(crop).permute(2, 0, 1).float()[None] / 255.0
    tensor = (tensor - torch.tensor(config.mean).view(1, 3, 1, 1)) / torch.tensor(config.std).view(1, 3, 1, 1)
    with torch.inference_mode():
        return model(tensor).logits.softmax(-1)[0].numpy()


def test_a_given_crop_is_one_face_with_probabilities_per_class(recognizer, model):
    crop = face_pixels(1)
    (face,) = recognizer.predict(crop)
    assert list(face.probabilities) == list(model.class_names)
    np.testing.assert_allclose(list(face.probabilities.values()), expected_probabilities(model, crop), atol=1e-5)
    assert face.label == max(face.probabilities, key=face.probabilities.get)
    assert face.box == (0.0, 0.0, 96.0, 96.0) and face.face == 0 and face.is_face
    assert list(face.organ_contributions) == list(ORGANS)
    assert sum(face.organ_contributions.values()) == pytest.approx(1.0)
    assert all(share > 0 for share in face.organ_contributions.values())


def test_organ_contributions_are_the_organ_heads_shares_for_the_label(recognizer, model):
    crop = face_pixels(2)
    (face,) = recognizer.predict(crop)
    with torch.inference_mode():
        per_organ = model(recognizer.to_tensor([crop])).per_organ_logits[0].softmax(-1)
    label = model.class_names.index(face.label)
    expected = (per_organ[:, label] / per_organ[:, label].sum()).numpy()
    np.testing.assert_allclose(list(face.organ_contributions.values()), expected, atol=1e-5)


def test_input_is_built_from_the_model_config(recognizer, tiny_model_dir):
    model = load_model(tiny_model_dir)
    model.config = type(model.config).from_dict({**model.config.to_dict(), "mean": [0.5, 0.5, 0.5],
                                                 "std": [0.25, 0.25, 0.25]})
    crop = face_pixels(3)
    (face,) = Recognizer(model, detector=None).predict(crop)
    np.testing.assert_allclose(list(face.probabilities.values()), expected_probabilities(model, crop), atol=1e-5)
    (default,) = recognizer.predict(crop)
    assert not np.allclose(list(face.probabilities.values()), list(default.probabilities.values()), atol=1e-4)


def test_path_pil_bytes_and_bgr_array_give_the_same_answer(recognizer, tmp_path):
    crop = face_pixels(4)
    path = tmp_path / "face.png"
    Image.fromarray(crop).save(path)
    reference = recognizer.predict(crop)[0].probabilities
    answers = [recognizer.predict(path), recognizer.predict(str(path)), recognizer.predict(Image.fromarray(crop)),
               recognizer.predict(path.read_bytes()), recognizer.predict(crop[:, :, ::-1].copy(), color_order="bgr")]
    for (face,) in answers:
        assert face.probabilities == pytest.approx(reference, abs=1e-6)
    assert answers[0][0].input == str(path)


def test_grey_rgba_sixteen_bit_palette_and_exif_rotated_images(recognizer, tmp_path):
    crop = face_pixels(5)
    grey = Image.fromarray(crop).convert("L")
    sixteen = tmp_path / "grey16.png"
    Image.fromarray(np.asarray(grey).astype(np.uint16) * 257).save(sixteen)
    rgba = Image.fromarray(crop).convert("RGBA")
    palette = Image.fromarray(crop).convert("P")
    rotated = tmp_path / "rotated.jpg"
    upright = Image.fromarray(crop[:, :80])  # not square, so a missed rotation changes the crop
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view": the stored pixels are the upright image turned 90 CCW
    upright.transpose(Image.Transpose.ROTATE_90).save(rotated, exif=exif, quality=100)
    (grey_face,) = recognizer.predict(grey)
    (sixteen_face,) = recognizer.predict(sixteen)
    assert sixteen_face.probabilities == pytest.approx(grey_face.probabilities, abs=1e-5)
    (rgba_face,) = recognizer.predict(rgba)
    assert rgba_face.probabilities == pytest.approx(recognizer.predict(crop)[0].probabilities, abs=1e-6)
    assert recognizer.predict(palette)[0].is_face
    (turned,) = recognizer.predict(rotated)
    assert turned.box == (0.0, 0.0, 80.0, 96.0)


def test_boxes_skip_detection_and_crop_around_each_box(recognizer):
    scene = np.zeros((120, 240, 3), dtype=np.uint8)
    scene[10:106, 10:106] = face_pixels(6)
    scene[10:106, 130:226] = face_pixels(7)
    faces = recognizer.predict(scene, boxes=[(10, 10, 106, 106), (130, 10, 226, 106)])
    assert [f.face for f in faces] == [0, 1]
    assert faces[1].box == (130.0, 10.0, 226.0, 106.0)
    assert faces[0].probabilities != pytest.approx(faces[1].probabilities, abs=1e-4)


class _FakeDetector:
    """Finds fixed faces: one with five landmarks, one with eyes only (NaN elsewhere), one with none."""

    name = "fake"

    def __init__(self) -> None:
        template = DEFAULT_TEMPLATE.pixels(96) + np.array([200.0, 20.0])
        eyes_only = np.full((5, 2), np.nan)
        eyes_only[:2] = DEFAULT_TEMPLATE.pixels(96)[:2] + np.array([20.0, 20.0])
        self.faces = [Detection((200.0, 20.0, 296.0, 116.0), 0.99, template),
                      Detection((20.0, 20.0, 116.0, 116.0), 0.8, eyes_only),
                      Detection((120.0, 140.0, 160.0, 180.0), 0.5, None)]
        self.calls = 0

    def detect(self, image):
        return self.detect_batch([image])[0]

    def detect_batch(self, images):
        self.calls += 1
        return [list(self.faces) for _ in images]


def test_detections_are_aligned_and_carried_into_the_records(model, recognizer):
    detector = _FakeDetector()
    aligning = Recognizer(model, detector=detector)
    scene = np.zeros((200, 320, 3), dtype=np.uint8)
    scene[20:116, 200:296] = face_pixels(8)
    faces = aligning.predict(scene)
    assert [f.detection_score for f in faces] == [0.99, 0.8, 0.5]
    assert faces[0].landmarks[2] == pytest.approx(tuple(DEFAULT_TEMPLATE.pixels(96)[2] + [200.0, 20.0]))
    assert np.isnan(faces[1].landmarks[2]).all() and faces[2].landmarks is None
    # The first face sits exactly on the template at 96 px: alignment is the identity shift, so the crop is the
    # face itself and the answer equals the answer on the crop alone.
    alone = recognizer.predict(face_pixels(8))[0]
    np.testing.assert_allclose(faces[0].matrix, [[1, 0, -200], [0, 1, -20]], atol=1e-3)
    assert faces[0].probabilities == pytest.approx(alone.probabilities, abs=1e-3)


def test_min_score_drops_unsure_detections(model):
    recognizer = Recognizer(model, detector=_FakeDetector(), min_score=0.85)
    (face,) = recognizer.predict(np.zeros((200, 320, 3), dtype=np.uint8))
    assert face.detection_score == 0.99 and face.face == 0


def test_predict_batch_equals_one_by_one_and_batches_detection(model):
    detector = _FakeDetector()
    recognizer = Recognizer(model, detector=detector, batch_size=2)
    scenes = [np.full((200, 320, 3), 40 * i, dtype=np.uint8) for i in range(3)]
    for scene, seed in zip(scenes, (9, 10, 11)):
        scene[20:116, 200:296] = face_pixels(seed)
    batched = recognizer.predict_batch(scenes)
    assert detector.calls == 1
    single = [recognizer.predict(scene) for scene in scenes]
    assert [len(faces) for faces in batched] == [3, 3, 3]
    for many, one in zip(batched, single):
        for a, b in zip(many, one):
            assert a.probabilities == pytest.approx(b.probabilities, abs=1e-5)
    assert [faces[0].input for faces in batched] == ["<image 0>", "<image 1>", "<image 2>"]


def test_flip_tta_is_mirror_invariant_and_swaps_left_and_right_organs(model, recognizer):
    tta = Recognizer(model, detector=None, flip_tta=True)
    crop = face_pixels(12)
    (face,) = tta.predict(crop)
    (mirrored,) = tta.predict(crop[:, ::-1].copy())
    assert face.probabilities == pytest.approx(mirrored.probabilities, abs=1e-6)
    swap = {"left_eye": "right_eye", "right_eye": "left_eye", "left_cheek": "right_cheek",
            "right_cheek": "left_cheek", "mouth": "mouth"}
    for organ, share in face.organ_contributions.items():
        assert mirrored.organ_contributions[swap[organ]] == pytest.approx(share, abs=1e-6)
    (plain,) = recognizer.predict(crop)
    assert plain.probabilities != pytest.approx(face.probabilities, abs=1e-5)
    # One call may ask for it, or not, whatever the recognizer's own setting.
    assert recognizer.predict_batch([crop], flip_tta=True)[0][0].probabilities == pytest.approx(face.probabilities,
                                                                                                abs=1e-6)
    assert tta.predict_batch([crop], flip_tta=False)[0][0].probabilities == pytest.approx(plain.probabilities,
                                                                                          abs=1e-6)


@pytest.mark.parametrize("kind", BAD_IMAGES)
def test_predict_raises_a_clear_error_naming_the_file(recognizer, bad_inputs, kind):
    path = bad_inputs[kind]
    with pytest.raises(ImageError, match=path.name):
        recognizer.predict(path)


def test_bad_inputs_get_one_error_record_each_and_the_batch_goes_on(recognizer, bad_inputs, tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(face_pixels(13)).save(good)
    inputs = [good] + [bad_inputs[kind] for kind in BAD_IMAGES] + [tmp_path / "missing.jpg", good]
    results = recognizer.predict_batch(inputs)
    assert len(results) == len(inputs)
    assert results[0][0].is_face and results[-1][0].is_face
    reasons = {"zero_byte": "empty", "truncated_jpeg": "truncated", "text_as_jpg": "not an image",
               "bomb_png": "exceeds", "animated_gif": "frames"}
    for kind, records in zip(BAD_IMAGES, results[1:]):
        (record,) = records
        assert record.is_failure and record.face is None
        assert str(bad_inputs[kind]) in record.error and reasons[kind] in record.error, record.error
        assert record.to_dict() == {"input": str(bad_inputs[kind]), "status": "error", "error": record.error}
    assert "no such file" in results[-2][0].error


def test_the_pixel_limit_is_configurable(model):
    small = Recognizer(model, detector=None, max_pixels=96 * 95)
    with pytest.raises(ImageError, match="exceeds the limit"):
        small.predict(face_pixels(14))
    (records,) = small.predict_batch([face_pixels(14)])
    assert "exceeds the limit" in records[0].error


class _FailingDetector(_FakeDetector):
    """Fails on dark images, as a detector bug on some input would."""

    def detect_batch(self, images):
        if any(image.mean() < 10 for image in images):
            raise RuntimeError("internal detector failure")
        return super().detect_batch(images)


def test_a_detector_failure_costs_only_its_own_image(model):
    recognizer = Recognizer(model, detector=_FailingDetector())
    bright = np.full((200, 320, 3), 128, dtype=np.uint8)
    dark = np.zeros((200, 320, 3), dtype=np.uint8)
    results = recognizer.predict_batch([bright, dark, bright])
    assert [len(r) for r in results] == [3, 1, 3]
    assert results[1][0].is_failure and "internal detector failure" in results[1][0].error
    with pytest.raises(RuntimeError, match="face detection failed"):
        recognizer.predict(dark)


def test_an_image_without_faces_gives_an_empty_list(model):
    recognizer = Recognizer(model, detector="haar")
    blank = np.full((80, 80, 3), 200, dtype=np.uint8)
    assert recognizer.predict(blank) == []
    assert recognizer.predict_batch([blank, blank]) == [[], []]


def test_unknown_backend_and_model_directory_errors(tiny_model_dir, tmp_path):
    with pytest.raises(ValueError, match="backend"):
        Recognizer.from_pretrained(tiny_model_dir, detector=None, backend="tensorrt")
    with pytest.raises(FileNotFoundError, match="config.json"):
        Recognizer.from_pretrained(tmp_path, detector=None)


def test_each_call_gets_its_own_timings_per_stage(model):
    recognizer = Recognizer(model, detector=None)
    buffer = io.BytesIO()
    Image.fromarray(face_pixels(15)).save(buffer, format="PNG")
    first, second = Counter(), Counter()
    recognizer.predict(buffer.getvalue(), timings=first)
    recognizer.predict_batch([buffer.getvalue()] * 2, timings=second)
    assert set(first) >= {"decode", "detect", "align", "model"} and set(second) == set(first)
    assert all(seconds >= 0 for seconds in [*first.values(), *second.values()])
    assert not hasattr(recognizer, "timings")  # nothing accumulates in shared state


def test_calls_from_two_threads_take_turns(model):
    recognizer = Recognizer(model, detector=None)
    inside, overlaps = [0], []
    model_call = recognizer._forward

    def counting(batch):
        inside[0] += 1
        overlaps.append(inside[0])
        try:
            return model_call(batch)
        finally:
            inside[0] -= 1

    recognizer._forward = counting
    crops = [face_pixels(seed) for seed in range(4)]
    threads = [threading.Thread(target=recognizer.predict_batch, args=(crops,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(overlaps) == 4 and max(overlaps) == 1


def test_cut_faces_then_classify_give_what_predict_batch_gives(model):
    recognizer = Recognizer(model, detector=GivenFacesScored([0.9, 0.4]))
    crops = [face_pixels(seed) for seed in range(3)]
    cut = [recognizer.cut_faces(crop, f"face{i}", min_score=0.5) for i, crop in enumerate(crops)]
    assert [len(faces) for faces in cut] == [1, 1, 1] and cut[0][0].crop.shape[:2] == (model.config.input_size,) * 2
    records = recognizer.classify([face for faces in cut for face in faces])
    expected = recognizer.predict_batch(crops, names=["face0", "face1", "face2"], min_score=0.5)
    assert [r.to_dict() for r in records] == [r.to_dict() for faces in expected for r in faces]


def test_a_spare_detector_is_a_new_one_of_the_same_name_and_none_for_an_object(model):
    named = Recognizer(model, detector="haar")
    spare = named.spare_detector()
    assert spare is not named.detector and type(spare) is type(named.detector)
    assert Recognizer(model, detector=GivenFacesScored([0.9])).spare_detector() is None
    named.detector = GivenFacesScored([0.9])  # a detector swapped in is the caller's object too
    assert named.spare_detector() is None


class GivenFacesScored:
    """The whole image as one face per score, scored so."""

    name = "scored"

    def __init__(self, scores: list[float]) -> None:
        self.scores = scores

    def detect(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        return [Detection((0.0, 0.0, float(width), float(height)), score, None) for score in self.scores]

    def detect_batch(self, images):
        return [self.detect(image) for image in images]


def test_min_score_of_a_call_drops_faces_before_the_model(model):
    recognizer = Recognizer(model, detector=GivenFacesScored([0.2, 0.9]))
    timings = Counter()
    (faces,) = recognizer.predict_batch([face_pixels(3)], min_score=0.5, timings=timings)
    assert [face.detection_score for face in faces] == [0.9] and [face.face for face in faces] == [0]
    (faces,) = recognizer.predict_batch([face_pixels(3)])
    assert [face.detection_score for face in faces] == [0.2, 0.9]


def test_the_framing_travels_in_the_model_metadata(model, tmp_path):
    framing = FaceFraming(DEFAULT_TEMPLATE.with_margin(0.2), grey=True, working_size=48)
    directory = model.save_pretrained(tmp_path / "model", metadata={"framing": framing.to_dict()})
    assert Recognizer.from_pretrained(directory, detector=None).framing == framing
    assert Recognizer(model, detector=None).framing == FaceFraming()


def test_a_model_without_framing_is_used_with_a_warning_that_says_so():
    model = create_model("pcnn_mbv2", num_classes=3, input_size=48)  # a fresh model's metadata records nothing
    with pytest.warns(UserWarning, match="records no face framing"):
        assert Recognizer(model, detector=None).framing == FaceFraming()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a framing given, or recorded, needs no warning
        Recognizer(model, detector=None, framing=FaceFraming(grey=True))


def test_the_shipped_model_saved_again_is_fed_and_calibrated_as_shipped(tmp_path):
    shipped = Pretrained.DEFAULT.value
    shipped.load().save_pretrained(tmp_path / "saved")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        original = Recognizer.from_pretrained(shipped.path, detector=None)
        saved = Recognizer.from_pretrained(tmp_path / "saved", detector=None)
    assert saved.framing == original.framing and saved.framing.grey
    assert saved.temperature == original.temperature != 1.0
    crop = face_pixels(16, size=120)
    assert saved.predict(crop)[0].probabilities == pytest.approx(original.predict(crop)[0].probabilities, abs=1e-6)


def test_a_grey_low_resolution_framing_feeds_the_model_what_it_was_trained_on(model):
    size = model.config.input_size
    colour = face_pixels(3)
    sharp = Recognizer(model, detector=None)
    soft = Recognizer(model, detector=None, framing=FaceFraming(grey=True, working_size=size // 2))
    detection = Detection((0, 0, colour.shape[1], colour.shape[0]), 1.0)
    crop, matrix = soft.framing.cut(colour, detection, size, box_margin=0.0)
    assert crop.shape == (size, size, 3) and crop.dtype == np.uint8
    assert (crop[..., 0] == crop[..., 1]).all() and (crop[..., 1] == crop[..., 2]).all()  # grey in 3 channels
    sharp_crop, sharp_matrix = sharp.framing.cut(colour, detection, size, box_margin=0.0)
    np.testing.assert_allclose(matrix, sharp_matrix, atol=1e-9)  # the same face region, at the input size
    # Halving the resolution then enlarging blurs: less high-frequency energy than the direct cut's grey.
    direct_grey = cv2.cvtColor(sharp_crop, cv2.COLOR_RGB2GRAY).astype(float)
    assert np.abs(np.diff(crop[..., 0].astype(float), axis=1)).mean() < np.abs(np.diff(direct_grey, axis=1)).mean()
    assert soft.predict(colour)[0].probabilities != sharp.predict(colour)[0].probabilities


def test_the_calibration_temperature_softens_probabilities_without_changing_labels(model, tmp_path):
    pixels = face_pixels(7)
    plain = Recognizer(model, detector=None).predict(pixels)[0]
    directory = model.save_pretrained(tmp_path / "hot", metadata={"calibration": {"temperature": 3.0}})
    hot = Recognizer.from_pretrained(directory, detector=None)
    assert hot.temperature == 3.0
    softened = hot.predict(pixels)[0]
    assert softened.label == plain.label
    assert max(softened.probabilities.values()) < max(plain.probabilities.values())
    logits = np.log(np.array(list(plain.probabilities.values())))
    expected = np.exp(logits / 3.0) / np.exp(logits / 3.0).sum()
    np.testing.assert_allclose(list(softened.probabilities.values()), expected, atol=1e-5)
    with pytest.raises(ValueError, match="temperature must be positive"):
        Recognizer(model, detector=None, temperature=0.0)


def test_the_prior_correction_divides_the_training_prior_out_of_the_probabilities(model, tmp_path):
    """softmax(logits / T - w * log prior): the model's fitted weight by default, another one or 0 when asked."""
    pixels = face_pixels(7)
    classes = len(model.config.class_names)
    prior = np.array([0.6] + [0.4 / (classes - 1)] * (classes - 1))
    plain = Recognizer(model, detector=None).predict(pixels)[0]
    directory = model.save_pretrained(tmp_path / "shifted", metadata={
        "calibration": {"temperature": 2.0}, "prior_correction": {"weight": 0.5, "prior": prior.tolist()}})
    logits = np.log(np.array(list(plain.probabilities.values())))  # up to a constant, which softmax ignores

    def expected(weight: float) -> np.ndarray:
        shifted = np.exp(logits / 2.0 - weight * np.log(prior))
        return shifted / shifted.sum()

    for asked, weight in ((None, 0.5), (1.0, 1.0), (0.0, 0.0)):
        recognizer = Recognizer.from_pretrained(directory, detector=None, backend="torch", prior_correction=asked)
        assert recognizer.prior_correction == weight
        record = recognizer.predict(pixels)[0]
        np.testing.assert_allclose(list(record.probabilities.values()), expected(weight), atol=1e-5)
        assert record.label == model.config.class_names[int(expected(weight).argmax())]
    # Another temperature rescales the corrected logits: the same class wins, with other confidences.
    hot = Recognizer.from_pretrained(directory, detector=None, backend="torch", temperature=8.0).predict(pixels)[0]
    corrected = logits / 2.0 - 0.5 * np.log(prior)  # the correction at the model's own temperature, 2
    rescaled = np.exp(corrected * 2.0 / 8.0)
    np.testing.assert_allclose(list(hot.probabilities.values()), rescaled / rescaled.sum(), atol=1e-5)
    assert hot.label == model.config.class_names[int(expected(0.5).argmax())]
    assert Recognizer(model, detector=None).prior_correction == 0.0  # nothing fitted: nothing shifted
    with pytest.raises(ValueError, match="records no training class prior"):
        Recognizer(model, detector=None, prior_correction=0.5)
    with pytest.raises(ValueError, match="must be 0 or more"):
        Recognizer.from_pretrained(directory, detector=None, backend="torch", prior_correction=-0.1)


def test_non_finite_model_outputs_become_error_records_not_nan(tmp_path, tiny_model_dir):
    broken = load_model(tiny_model_dir)
    with torch.no_grad():
        next(broken.parameters()).fill_(float("nan"))  # as bit-flipped weights would
    (face,) = Recognizer(broken, detector=None).predict_batch([face_pixels(1)])[0]
    assert face.is_failure and "not finite" in face.error and face.label is None
    record = face.to_dict()
    json.loads(json.dumps(record, allow_nan=False))  # valid JSON: no NaN anywhere


def test_an_mtcnn_score_cut_outside_zero_to_one_is_refused(model):
    with pytest.raises(ValueError, match="min_score 5: mtcnn scores faces with probabilities"):
        Recognizer(model, detector="mtcnn", min_score=5)
    assert Recognizer(model, detector="haar", min_score=5).min_score == 5  # haar scores count neighbours
