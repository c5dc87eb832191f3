"""`pcnn-fer info`: parameters, MACs, split and per-part breakdown of a variant."""

from __future__ import annotations

import re

import pytest

from pcnn_fer.cli.main import main
from pcnn_fer.models import count_parameters, create_model, get_backbone, list_variants
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


def test_unknown_variant_is_a_one_line_error_listing_the_registered_ones(capsys) -> None:
    assert main(["info", "pcnn_r999"]) == 2
    error = capsys.readouterr().err
    assert len(error.strip().splitlines()) == 1 and "pcnn_r999" in error
    assert all(name in error for name in list_variants())


def test_the_offered_names_are_the_registries(capsys) -> None:
    # Recipes and the command line list what the registries hold, never a copy.
    from pcnn_fer.cli.main import build_parser
    from pcnn_fer.engine.config import AMP_MODES, TrainConfig
    from pcnn_fer.faces.registry import detector_names
    from pcnn_fer.validation import choices_of

    fields = type(TrainConfig().model).model_fields
    assert set(choices_of(fields["variant"].annotation)) == set(list_variants())
    eval_parser = build_parser()._subparsers._group_actions[0].choices["eval"]
    predict_parser = build_parser()._subparsers._group_actions[0].choices["predict"]
    assert next(a for a in eval_parser._actions if a.dest == "amp").choices == AMP_MODES
    assert tuple(next(a for a in predict_parser._actions if a.dest == "detector").choices) == detector_names()
