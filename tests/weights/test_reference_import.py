"""Importing the authors' checkpoint layout: same outputs as the reference, honest report, clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pcnn_fer.models import PCNN
from pcnn_fer.weights.reference import (
    ImportReport,
    import_reference_checkpoint,
    import_reference_state_dict,
    reference_state_dict,
)
from pcnn_fer.weights.safe_pickle import safe_load

RAFDB = ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")


@pytest.fixture(scope="module")
def imported(reference_case) -> tuple[PCNN, ImportReport]:
    return import_reference_checkpoint(reference_case.checkpoint, RAFDB)


@pytest.fixture(scope="module")
def reference_tensors(reference_case) -> dict[str, torch.Tensor]:
    return dict(safe_load(reference_case.checkpoint).content["state_dict"])


def test_imported_model_gives_the_reference_outputs(imported, reference_case) -> None:
    model, _ = imported
    assert not model.training
    with torch.no_grad():
        reference_case.assert_matches(model(reference_case.images))


def test_report_lists_loaded_and_ignored_keys(imported, reference_case) -> None:
    model, report = imported
    assert len(report.loaded) == len(model.state_dict()) == 586
    assert {k.split(".")[0] for k in report.loaded} == {
        "features1", "features2", "features3", "features4", "features6", "features7", "features8",
        "fc_loc", "fc", "fc2", "fc3", "fc4", "fc6", "fc7"}
    assert sorted(report.ignored) == ["resnet", *(f"resnet{i}" for i in range(1, 7))]
    assert len(report.loaded) + report.num_ignored == 1440
    assert report.stand_ins == ("__main__.RecorderMeter",)
    assert report.extras == {"epoch": 1, "best_acc": 0.0}
    assert "resnet4 (122)" in report.summary()
    assert model.class_names == RAFDB


def test_bare_data_parallel_state_dict_loads_the_same_weights(tmp_path: Path, imported, reference_tensors) -> None:
    used = {f"module.{k}": v for k, v in reference_tensors.items() if not k.startswith("resnet")}
    torch.save(used, tmp_path / "bare.pth")
    model, report = import_reference_checkpoint(tmp_path / "bare.pth")
    assert report.ignored == {} and report.stand_ins == ()
    assert model.class_names == tuple(f"class_{i}" for i in range(7))
    expected = model.state_dict()
    for key, value in imported[0].state_dict().items():
        assert torch.equal(expected[key], value), key


def test_number_of_classes_comes_from_fc(reference_tensors) -> None:
    tensors = dict(reference_tensors)
    for head, width in [("fc", 512), *((f"fc{n}", 256) for n in (2, 3, 4, 6, 7))]:
        tensors[f"{head}.weight"], tensors[f"{head}.bias"] = torch.zeros(8, width), torch.zeros(8)
    model, _ = import_reference_state_dict(tensors)
    assert model.config.num_classes == 8 and model.head.out_features == 8


def test_missing_tensor_is_an_error(reference_tensors) -> None:
    tensors = {k: v for k, v in reference_tensors.items() if k != "fc_loc.0.weight"}
    with pytest.raises(ValueError, match=r"missing.*fc_loc\.0\.weight"):
        import_reference_state_dict(tensors, source="rafdb.pth")


def test_wrong_shape_is_an_error(reference_tensors) -> None:
    tensors = dict(reference_tensors, **{"features3.0.weight": torch.zeros(64, 3, 3, 3)})
    with pytest.raises(ValueError, match=r"features3\.0\.weight has shape \(64, 3, 3, 3\), expected \(64, 3, 7, 7\)"):
        import_reference_state_dict(tensors)


def test_class_names_must_match_fc(reference_tensors) -> None:
    with pytest.raises(ValueError, match="7 outputs but 2 class names"):
        import_reference_state_dict(reference_tensors, class_names=["a", "b"])


def test_content_without_a_state_dict_is_refused() -> None:
    with pytest.raises(ValueError, match=r"x\.pth: expected a state_dict.*\['epoch', 'model'\]"):
        reference_state_dict({"epoch": 1, "model": "resnet"}, "x.pth")
    with pytest.raises(ValueError, match="no 'fc.weight' matrix"):
        import_reference_state_dict({"conv1.weight": torch.zeros(1)})


def test_non_string_keys_are_refused_by_name(tmp_path: Path) -> None:
    torch.save({"state_dict": {"fc.weight": torch.zeros(7, 512), 3: torch.zeros(1)}}, tmp_path / "odd.pth")
    with pytest.raises(ValueError, match=r"odd\.pth: state_dict key 3 is a int, expected a str"):
        import_reference_checkpoint(tmp_path / "odd.pth")
