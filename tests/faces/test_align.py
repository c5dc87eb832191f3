import numpy as np
import pytest

from pcnn_fer.faces.align import (
    DEFAULT_TEMPLATE,
    AlignTemplate,
    align,
    align_box,
    align_detection,
    invert_affine,
    similarity_transform,
    transform_points,
)
from pcnn_fer.faces.detect import Detection


def similarity(angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    angle = np.deg2rad(angle_deg)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.hstack([rotation, np.array(shift)[:, None]])


def face_in_source(size: int = 112, angle: float = 17.0, scale: float = 1.6, shift=(40.0, 25.0)) -> np.ndarray:
    """Landmarks that are an exact similarity image of the default template's points."""
    return transform_points(similarity(angle, scale, shift), DEFAULT_TEMPLATE.pixels(size))


def dots(shape: tuple[int, int], points: np.ndarray, radius: int = 2) -> np.ndarray:
    """A black RGB image with a white square dot at each point."""
    image = np.zeros((*shape, 3), dtype=np.uint8)
    for x, y in np.round(points).astype(int):
        image[y - radius:y + radius + 1, x - radius:x + radius + 1] = 255
    return image


def centroid_near(crop: np.ndarray, point: np.ndarray, window: int = 6) -> np.ndarray:
    x, y = np.round(point).astype(int)
    patch = crop[y - window:y + window + 1, x - window:x + window + 1, 0].astype(float)
    rows, cols = np.mgrid[y - window:y + window + 1, x - window:x + window + 1]
    return np.array([(cols * patch).sum(), (rows * patch).sum()]) / patch.sum()


def test_similarity_transform_recovers_a_known_similarity():
    truth = similarity(-23.0, 0.7, (12.0, -5.0))
    source = np.random.default_rng(0).uniform(0, 200, size=(5, 2))
    np.testing.assert_allclose(similarity_transform(source, transform_points(truth, source)), truth, atol=1e-9)
    weighted = similarity_transform(source, transform_points(truth, source), weights=[4, 4, 1, 1, 0])
    np.testing.assert_allclose(weighted, truth, atol=1e-9)


def test_two_points_map_exactly():
    matrix = similarity_transform([[10, 20], [50, 35]], [[30, 40], [70, 40]])
    np.testing.assert_allclose(transform_points(matrix, [[10, 20], [50, 35]]), [[30, 40], [70, 40]], atol=1e-9)


def test_weights_pull_the_fit_towards_heavy_points():
    target = DEFAULT_TEMPLATE.pixels(100)
    source = target.copy()
    source[3:] += [[-8, 6], [8, 6]]  # a broad open-mouthed smile
    equal = transform_points(similarity_transform(source, target), source)
    eyes_first = transform_points(similarity_transform(source, target, [4, 4, 1, 1, 1]), source)
    assert np.abs(eyes_first[:2] - target[:2]).max() < 0.75 * np.abs(equal[:2] - target[:2]).max()


def test_degenerate_points_are_refused():
    with pytest.raises(ValueError, match="degenerate"):
        similarity_transform([[5, 5], [5, 5]], [[30, 40], [70, 40]])
    with pytest.raises(ValueError, match="N >= 2"):
        similarity_transform([[5, 5]], [[30, 40]])


@pytest.mark.parametrize("size", [100, 112, 224])
def test_align_puts_every_point_on_the_template(size):
    landmarks = face_in_source(angle=-12.0)
    image = dots((320, 300), landmarks)
    crop, matrix = align(image, landmarks, size=size)
    assert crop.shape == (size, size, 3) and crop.dtype == np.uint8
    target = DEFAULT_TEMPLATE.pixels(size)
    np.testing.assert_allclose(transform_points(matrix, landmarks), target, atol=1e-6)
    for point in target[:2]:  # the pixels moved with the matrix: the eye dots sit on the template eyes
        np.testing.assert_allclose(centroid_near(crop, point), point, atol=0.75)
    np.testing.assert_allclose(transform_points(invert_affine(matrix), target), landmarks, atol=1e-6)


def test_eyes_only_alignment_uses_the_eye_line():
    landmarks = face_in_source(angle=30.0, scale=0.9)
    eyes_only = np.full((5, 2), np.nan)
    eyes_only[:2] = landmarks[:2]
    image = dots((260, 260), landmarks)
    crop, matrix = align(image, eyes_only, size=112)
    target = DEFAULT_TEMPLATE.pixels(112)
    np.testing.assert_allclose(transform_points(matrix, landmarks[:2]), target[:2], atol=1e-6)
    # the rest of the face follows: these landmarks are a similarity of the template, so they land on it too
    np.testing.assert_allclose(transform_points(matrix, landmarks), target, atol=1e-6)
    np.testing.assert_allclose(centroid_near(crop, target[0]), target[0], atol=0.75)


def test_a_mouth_centre_stands_in_for_unknown_corners_and_is_ignored_beside_them():
    landmarks = face_in_source(angle=8.0, scale=1.2)
    centre = landmarks[3:].mean(axis=0)
    no_corners = landmarks.copy()
    no_corners[3:] = np.nan
    no_corners[2] += (6.0, 0.0)  # a nose tip off the template's line, so that the mouth has something to pull against
    image = np.zeros((300, 300, 3), np.uint8)
    _, without = align(image, no_corners, size=112)
    _, with_centre = align(image, no_corners, size=112, mouth=centre)
    target_centre = DEFAULT_TEMPLATE.pixels(112)[3:].mean(axis=0)
    miss_without = np.linalg.norm(transform_points(without, centre[None])[0] - target_centre)
    miss_with = np.linalg.norm(transform_points(with_centre, centre[None])[0] - target_centre)
    assert miss_with < miss_without / 2
    _, corners = align(image, landmarks, size=112)
    np.testing.assert_array_equal(align(image, landmarks, size=112, mouth=centre + 20.0)[1], corners)
    detection = Detection((0, 0, 300, 300), 0.9, no_corners, mouth=centre)
    np.testing.assert_allclose(align_detection(image, detection, size=112)[1], with_centre, atol=1e-3)  # float32
    assert detection.scaled(2.0).mouth == pytest.approx(tuple(centre * 2.0))


def test_align_needs_both_eyes():
    landmarks = face_in_source()
    landmarks[1] = np.nan
    with pytest.raises(ValueError, match="both eye centres"):
        align(np.zeros((300, 300, 3), np.uint8), landmarks)
    with pytest.raises(ValueError, match=r"shape \(5, 2\)"):
        align(np.zeros((300, 300, 3), np.uint8), landmarks[:2])


def test_margin_zooms_out_about_the_centre():
    wide = DEFAULT_TEMPLATE.with_margin(0.25)
    tight_points, wide_points = DEFAULT_TEMPLATE.pixels(200), wide.pixels(200)
    eye_distance = np.linalg.norm(tight_points[1] - tight_points[0])
    assert np.isclose(np.linalg.norm(wide_points[1] - wide_points[0]), eye_distance / 1.5)
    np.testing.assert_allclose(wide_points - 100, (tight_points - 100) / 1.5)


def test_template_round_trips_and_validates():
    template = DEFAULT_TEMPLATE.with_margin(0.1)
    assert AlignTemplate.from_dict(template.to_dict()) == template
    with pytest.raises(ValueError, match="5 .x, y. pairs"):
        AlignTemplate(points=((0.3, 0.4), (0.7, 0.4)))
    with pytest.raises(ValueError, match="positive eye weights"):
        AlignTemplate(points=DEFAULT_TEMPLATE.points, weights=(0, 1, 1, 1, 1))


def test_default_template_fits_the_pcnn_region_layout():
    (left_eye, right_eye, nose, mouth_left, mouth_right) = np.asarray(DEFAULT_TEMPLATE.points)
    assert left_eye[0] < 0.5 < right_eye[0] and max(left_eye[1], right_eye[1]) < 0.5
    assert 0.5 < nose[1] < 0.65 and min(mouth_left[1], mouth_right[1]) > 0.65


def test_align_box_centres_a_square_crop():
    image = dots((200, 300), np.array([[150.0, 100.0]]))
    crop, matrix = align_box(image, (110, 60, 190, 140), size=100, margin=0.25)  # 80 px box -> 120 px side
    np.testing.assert_allclose(transform_points(matrix, [[150, 100], [90, 40], [210, 160]]),
                               [[50, 50], [0, 0], [100, 100]], atol=1e-9)
    np.testing.assert_allclose(centroid_near(crop, np.array([50.0, 50.0])), [50, 50], atol=0.75)


def test_align_detection_chooses_landmarks_or_box():
    landmarks = face_in_source()
    image = dots((320, 300), landmarks)
    with_points = Detection((30, 20, 250, 260), 0.9, landmarks)
    _, matrix = align_detection(image, with_points, size=112)
    np.testing.assert_allclose(transform_points(matrix, landmarks), DEFAULT_TEMPLATE.pixels(112), atol=1e-6)
    box_only = Detection((30, 20, 250, 260), 0.9, None)
    _, matrix = align_detection(image, box_only, size=112, box_margin=0.0)
    np.testing.assert_allclose(transform_points(matrix, [[140, 140]]), [[56, 56]], atol=1e-9)
