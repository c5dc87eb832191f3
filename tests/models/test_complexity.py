"""MAC counting and the per-part parameter breakdown."""

from __future__ import annotations

from torch import nn

from pcnn_fer.models import count_parameters, create_model
from pcnn_fer.models.complexity import count_macs, parameters_by_part


def test_macs_of_a_convolution_and_a_linear_layer() -> None:
    # conv: 8 out channels x 16x16 positions x (3 in x 3x3 kernel); linear: 8 x 10
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    assert count_macs(model, input_size=16) == 8 * 16 * 16 * 27 + 8 * 10


def test_parts_add_up_to_the_whole() -> None:
    model = create_model("pcnn_mbv2")
    parts = parameters_by_part(model)
    assert sum(parts.values()) == count_parameters(model)
    assert set(parts) == {"global_trunk", "final_stage", "organ_trunks", "organ_heads", "stn_head", "head"}
