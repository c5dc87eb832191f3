"""The same --model value works in predict, eval, export and serve: a shipped name, a model directory, a training
run; and one that names nothing is the same one-line error everywhere."""

from __future__ import annotations

import json

import pytest

from pcnn_fer.cli.main import main
from pcnn_fer.models.pretrained import Pretrained

FORMS = ["shipped name", "model directory", "training run"]


def _reference(form: str, trained) -> tuple[str, tuple[str, ...]]:
    """(--model value, the classes of the model it names)."""
    root, _ = trained
    if form == "shipped name":
        return Pretrained.DEFAULT.name.upper(), Pretrained.DEFAULT.config.class_names
    classes = ("happiness", "sadness", "surprise")
    return str(root / "run" / "selected") if form == "model directory" else str(root / "run"), classes


@pytest.mark.parametrize("form", FORMS)
def test_predict(form, trained, capsys):
    model, classes = _reference(form, trained)
    face = next((trained[1] / "test" / "happiness").iterdir())
    assert main(["predict", str(face), "--model", model, "--detector", "none", "--quiet"]) == 0
    assert tuple(json.loads(capsys.readouterr().out)["probabilities"]) == classes


@pytest.mark.parametrize("form", FORMS)
def test_eval(form, trained, tmp_path, capsys):
    model, _ = _reference(form, trained)
    assert main(["eval", "--model", model, "--dataset", "folder", "--data-root", str(trained[1]), "--workers", "0",
                 "--quiet", "--output", str(tmp_path / "eval")]) == 0
    assert "accuracy" in capsys.readouterr().out and any((tmp_path / "eval").iterdir())


@pytest.mark.parametrize("form", FORMS)
def test_export(form, trained, tmp_path, capsys, monkeypatch):
    """The model export converts is the one the form names (the conversion itself: tests/cli/test_export.py)."""
    exported = {}

    def convert(model, path, opset):
        exported["classes"] = model.config.class_names
        return path

    monkeypatch.setattr("pcnn_fer.inference.onnx.export_onnx", convert)
    monkeypatch.setattr("pcnn_fer.inference.onnx.OnnxModel", lambda path: None)
    monkeypatch.setattr("pcnn_fer.inference.onnx.check_parity", lambda model, onnx_model, where: 0.0)
    model, classes = _reference(form, trained)
    assert main(["export", "--model", model, "--output", str(tmp_path / "model.onnx")]) == 0
    assert exported["classes"] == classes


@pytest.mark.parametrize("form", FORMS)
def test_serve_loads_the_model_the_command_would(form, trained, require_module):
    require_module("fastapi", "serve")
    from pcnn_fer.serve.app import load_recognizer
    from pcnn_fer.serve.settings import ServeSettings

    model, classes = _reference(form, trained)
    assert load_recognizer(ServeSettings(model=model, detector="none")).class_names == classes


@pytest.mark.parametrize("command", [["predict", "x.jpg"], ["eval", "--dataset", "folder", "--data-root", "."],
                                     ["export", "--output", "x.onnx"], ["serve"]])
def test_a_model_that_names_nothing_is_the_same_one_line_error(command, tmp_path, capsys):
    missing = str(tmp_path / "nowhere")
    assert main([*command, "--model", missing]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert f"no model '{missing}': not a shipped model" in error
