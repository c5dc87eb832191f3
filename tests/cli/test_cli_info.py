"""`pcnn-fer info`: parameters, MACs, split and per-part breakdown of a variant."""

from __future__ import annotations

import re

import pytest

from pcnn_fer.cli.main import main
from pcnn_fer.models import count_parameters, create_model, get_backbone
from pcnn_fer.models.complexity import count_macs, parameters_by_part


@pytest.mark.parametrize("num_classes", [3])
def test_info_reports_what_the_model_is(capsys, num_classes: int) -> None:
    assert main(["info", "pcnn_mbv2", "--num-classes", str(num_classes)]) == 0
    printed = capsys.readouterr().out
    model = create_model("pcnn_mbv2", num_classes=num_classes)
    assert f"parameters: {count_parameters(model):,} " in printed
    assert f"MACs at 224x224: {count_macs(model) / 1e9:.2f} G" in printed
    assert get_backbone("mobilenet_v2").description in printed
    for part, count in parameters_by_part(model).items():
        assert re.search(rf"^\s+{part}\s+{count:,}\s", printed, re.MULTILINE), part


def test_unknown_variant_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["info", "pcnn_r999"])
    assert exit_info.value.code == 2
    assert "pcnn_r18" in capsys.readouterr().err
