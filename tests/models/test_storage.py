"""save_pretrained -> load_model gives back the very same model, config and metadata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pcnn_fer import load_model
from pcnn_fer.models import PCNN, FractionBox, RegionLayout, create_model
from pcnn_fer.models.storage import CONFIG_FILE


def test_round_trip_is_bit_exact(tmp_path: Path) -> None:
    torch.manual_seed(0)
    boxes = dict(RegionLayout().boxes, mouth=FractionBox(0.6, 1.0, 0.1, 0.9))
    model = create_model("pcnn_mbv2", class_names=["neutral", "happiness", "anger"], stn=False,
                         layout=RegionLayout(boxes=boxes), input_size=112)
    with torch.no_grad():  # make BatchNorm statistics non-trivial, so buffers are checked too
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_()
    metadata = {"dataset": "rafdb", "metrics": {"test": {"accuracy": 0.875}}, "licence": "MIT"}

    model.save_pretrained(tmp_path / "model", metadata=metadata)
    loaded = PCNN.from_pretrained(tmp_path / "model")

    assert loaded.config == model.config
    assert loaded.metadata.to_dict() == metadata
    assert loaded.metadata.dataset == "rafdb" and loaded.metadata.extra == {"licence": "MIT"}
    assert not loaded.training
    original, restored = model.state_dict(), loaded.state_dict()
    assert list(restored) == list(original)
    for key, value in original.items():
        assert restored[key].dtype == value.dtype and torch.equal(restored[key], value), key
    images = torch.randn(2, 3, 112, 112)
    with torch.no_grad():
        assert torch.equal(model.eval()(images).logits, loaded(images).logits)


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path: Path) -> None:
    create_model("pcnn_mbv2", num_classes=3).save_pretrained(tmp_path / "model")
    document = json.loads((tmp_path / "model" / CONFIG_FILE).read_text())
    document["config"]["class_names"] = ["a", "b", "c", "d"]
    (tmp_path / "model" / CONFIG_FILE).write_text(json.dumps(document))
    with pytest.raises(ValueError, match="does not fit its config"):
        load_model(tmp_path / "model")


@pytest.mark.parametrize("edit, message", [
    (lambda document: [], "expected a JSON object, found list"),
    (lambda document: dict(document, config=[]), "config.json: config expects dict, got \\[\\]"),
    (lambda document: {k: v for k, v in document.items() if k != "config"}, "config.json: config is missing"),
    (lambda document: dict(document, format_version="1"), "config.json: format_version expects int, got '1'"),
    (lambda document: dict(document, metadata=[1]), "config.json: metadata expects dict, got \\[1\\]"),
    (lambda document: dict(document, config=dict(document["config"], mean=3)),
     "config: PCNN config: mean expects a tuple of 3 float values, got 3"),
    (lambda document: dict(document, config=dict(document["config"], layout={"boxes": {"left_eye": [0, 0.5]}})),
     "config: .*required positional arguments"),
    (lambda document: dict(document, config=dict(document["config"], colour="red")), "config: unknown"),
    (lambda document: dict(document, metadata={"calibration": {"temperature": 0}}),
     "model metadata: calibration.temperature is 0; allowed: more than 0.0"),
    (lambda document: dict(document, metadata={"metrics": {"split": "test"}}),
     "model metadata: metrics expects dict, got 'test'"),
], ids=["list", "config-list", "no-config", "version-str", "metadata-list", "mean-int", "box-short", "unknown-key",
        "temperature-zero", "metrics-flat"])
def test_malformed_config_json_is_a_value_error_naming_the_file(tmp_path: Path, edit, message: str) -> None:
    create_model("pcnn_mbv2", num_classes=3).save_pretrained(tmp_path / "model")
    path = tmp_path / "model" / CONFIG_FILE
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    with pytest.raises(ValueError, match=f"config.json: {message}"):
        load_model(tmp_path / "model")


def test_float16_storage_halves_the_file_and_loads_back_as_float32(tmp_path: Path) -> None:
    from pcnn_fer.models.storage import WEIGHTS_FILE, save_model

    torch.manual_seed(0)
    model = create_model("pcnn_mbv2", class_names=["neutral", "happiness", "anger"], input_size=64).eval()
    full = save_model(model, tmp_path / "full") / WEIGHTS_FILE
    half = save_model(model, tmp_path / "half", storage_dtype=torch.float16) / WEIGHTS_FILE
    assert half.stat().st_size < 0.55 * full.stat().st_size
    loaded = load_model(tmp_path / "half")
    state, original = loaded.state_dict(), model.state_dict()
    for key, value in original.items():
        assert state[key].dtype == value.dtype  # float32 parameters, int64 counters kept
        if value.is_floating_point():
            torch.testing.assert_close(state[key], value.half().float())
        else:
            assert torch.equal(state[key], value)
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(images).logits, model(images).logits, atol=5e-2, rtol=5e-2)


def test_a_loaded_model_saved_again_keeps_what_its_directory_said(tmp_path: Path) -> None:
    metadata = {"framing": {"template": {"points": [[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]]},
                            "grey": True, "working_size": 48},
                "calibration": {"temperature": 1.4, "fitted_on": "val"},
                "metrics": {"test": {"accuracy": 0.85}}, "training": {"epochs": 30}}
    create_model("pcnn_mbv2", num_classes=3).save_pretrained(tmp_path / "first", metadata=metadata)

    load_model(tmp_path / "first").save_pretrained(tmp_path / "again")

    assert load_model(tmp_path / "again").metadata.to_dict() == metadata
    explicit = {"dataset": "rafdb"}  # metadata given to save replaces the model's own
    load_model(tmp_path / "first").save_pretrained(tmp_path / "explicit", metadata=explicit)
    assert load_model(tmp_path / "explicit").metadata.to_dict() == explicit
