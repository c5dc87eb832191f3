"""check_state_dict: one message naming every missing, unexpected and wrongly shaped key."""

from __future__ import annotations

import pytest
import torch

from pcnn_fer.models import create_model
from pcnn_fer.models.pcnn import CLASSIFIER_PREFIXES
from pcnn_fer.models.state import check_state_dict
from pcnn_fer.models.trunks import get_backbone

EXPECTED = {"conv.weight": torch.zeros(4, 3), "conv.bias": torch.zeros(4), "fc.weight": torch.zeros(7, 4)}


def test_a_fitting_state_passes() -> None:
    check_state_dict(EXPECTED, {k: torch.ones_like(v) for k, v in EXPECTED.items()}, "w.pth")


def test_every_kind_of_misfit_is_named_in_one_message() -> None:
    state = {"conv.weight": torch.zeros(4, 2), "fc.weight": "not a tensor", "extra": torch.zeros(1)}
    with pytest.raises(ValueError) as caught:
        check_state_dict(EXPECTED, state, "w.pth")
    assert str(caught.value) == ("w.pth: 1 keys missing, e.g. ['conv.bias']; 1 unexpected keys, e.g. ['extra']; "
                                 "conv.weight has shape (4, 2), expected (4, 3); "
                                 "fc.weight has shape str, expected (7, 4)")


def test_ignored_prefixes_extra_keys_and_spelling() -> None:
    state = {"conv.weight": torch.zeros(4, 3), "conv.bias": torch.zeros(4), "fc.weight": torch.zeros(2, 4)}
    check_state_dict(EXPECTED, state, "w.pth", ignore=("fc.",))
    check_state_dict(EXPECTED, {**state, "fc.weight": torch.zeros(7, 4), "extra": torch.zeros(1)}, "w.pth",
                     allow_unexpected=True)
    with pytest.raises(ValueError, match=r"w\.pth: 1 keys missing, e.g. \['theirs\.bias'\]$"):
        check_state_dict(EXPECTED, {"conv.weight": torch.zeros(4, 3), "fc.weight": torch.zeros(7, 4)}, "w.pth",
                         key_name=lambda key: key.replace("conv.", "theirs."))


def test_many_wrong_shapes_are_counted_not_all_listed() -> None:
    expected = {f"k{i}": torch.zeros(2) for i in range(8)}
    with pytest.raises(ValueError, match=r"k4 has shape \(3,\), expected \(2,\); 3 more keys of another shape$"):
        check_state_dict(expected, {k: torch.zeros(3) for k in expected}, "w.pth")


def test_init_backbone_refuses_weights_of_another_shape_and_ignores_the_classifier() -> None:
    model = create_model("pcnn_mbv2", num_classes=3, stn=False)
    state = get_backbone("mobilenet_v2").build().state_dict()
    assert any(key.startswith(CLASSIFIER_PREFIXES) for key in state)
    model.init_backbone(state)
    torch.testing.assert_close(model.global_trunk.state_dict()["0.0.weight"], state["features.0.0.weight"])
    state["features.1.conv.0.0.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"backbone weights do not fit mobilenet_v2: features\.1\.conv\.0\.0\.weight "
                                         r"has shape \(1,\)"):
        model.init_backbone(state)
