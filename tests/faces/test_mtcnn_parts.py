"""The cascade's box arithmetic and layer layout, without weights."""

import numpy as np
import pytest
import torch

from pcnn_fer.faces.mtcnn import MTCNN, STAGES, nms_min, regress, resample_window, square


def test_min_overlap_nms_drops_a_box_inside_a_surer_one_per_image():
    boxes = torch.tensor([[0.0, 0, 100, 100], [10, 10, 40, 40], [10, 10, 40, 40], [200, 200, 260, 260]])
    scores = torch.tensor([0.9, 0.8, 0.95, 0.7])
    groups = torch.tensor([0, 0, 1, 0])
    # [1] lies inside [0] (IoU 0.09, but all of its area): suppressed. [2] is the same box in another image.
    assert sorted(nms_min(boxes, scores, groups, 0.7).tolist()) == [0, 2, 3]
    assert nms_min(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long), 0.7).numel() == 0


def test_regression_moves_edges_by_fractions_of_the_size():
    moved = regress(torch.tensor([[10.0, 20, 110, 70]]), torch.tensor([[0.1, -0.2, 0.0, 0.5]]))
    assert moved.tolist() == [[20.0, 10.0, 110.0, 95.0]]


def test_square_keeps_the_centre_and_takes_the_longer_side():
    assert square(torch.tensor([[10.0, 20, 110, 70]])).tolist() == [[10.0, -5.0, 110.0, 95.0]]


def test_stage_outputs_and_layer_names():
    pnet, rnet, onet = (STAGES[name]() for name in ("pnet", "rnet", "onet"))
    probabilities, offsets = pnet(torch.zeros(2, 3, 12, 20))
    assert probabilities.shape == (2, 2, 1, 5) and offsets.shape == (2, 4, 1, 5)  # stride 2 over the width
    assert [t.shape for t in rnet(torch.zeros(3, 3, 24, 24))] == [(3, 2), (3, 4)]
    assert [t.shape for t in onet(torch.zeros(3, 3, 48, 48))] == [(3, 2), (3, 4), (3, 10)]
    assert {"conv4_1.weight", "conv4_2.bias", "prelu3.weight"} <= set(pnet.state_dict())
    assert {"dense4.weight", "prelu4.weight", "dense5_1.weight", "dense5_2.weight"} <= set(rnet.state_dict())
    assert {"conv4.weight", "dense5.weight", "dense6_3.bias"} <= set(onet.state_dict())


def untrained(**options) -> MTCNN:
    return MTCNN(*(STAGES[name]() for name in ("pnet", "rnet", "onet")), **options)


@pytest.mark.parametrize("options, message", [
    ({"min_face_size": 8}, "at least 12"),
    ({"factor": 1.2}, "factor"),
    ({"thresholds": (0.6, 0.7)}, "one value per stage"),
])
def test_settings_are_checked(options, message):
    with pytest.raises(ValueError, match=message):
        untrained(**options)


def test_pyramid_starts_at_the_smallest_face_and_stops_at_the_window():
    scales = untrained(min_face_size=24, factor=0.5).pyramid_scales(200, 100)
    assert scales == [0.5, 0.25, 0.125]  # 100 px short side: 50, 25, 12.5 >= 12 > 6.25


def test_images_too_small_for_a_window_have_no_faces():
    detector = untrained()
    assert detector.detect_batch([np.zeros((10, 10, 3), np.uint8), np.zeros((30, 15, 3), np.uint8)]) == [[], []]
    assert detector.detect_batch([]) == []


def test_windows_leaving_the_image_are_zero_padded():
    image = np.full((10, 10, 3), 200, dtype=np.uint8)
    window = resample_window(image, (-10, 0, 10, 20), 20)  # left half and bottom half outside
    assert window.shape == (20, 20, 3)
    assert (window[:10, 10:] == 200).all() and (window[:, :10] == 0).all() and (window[10:] == 0).all()
