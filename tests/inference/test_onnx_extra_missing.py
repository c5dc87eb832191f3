"""Without the optional onnx packages, ONNX export and the onnx backend say what to install."""

from __future__ import annotations

import sys

import pytest

from pcnn_fer.cli.main import main
from pcnn_fer.inference.onnx import OnnxModel, export_onnx, onnx_model_of
from pcnn_fer.models import create_model

INSTALL = r"pip install 'pcnn-fer\[onnx\]'"


@pytest.fixture(scope="module")
def model():
    return create_model("pcnn_mbv2", num_classes=3, organs=False, input_size=64)


@pytest.mark.parametrize("package", ["onnx", "onnxscript"])
def test_export_without_its_packages_is_a_runtime_error(model, tmp_path, monkeypatch, package):
    monkeypatch.setitem(sys.modules, package, None)  # makes `import package` fail as if it were not installed
    with pytest.raises(RuntimeError, match=f"ONNX export needs onnx and onnxruntime.*{package} is not installed: "
                                           f"{INSTALL}"):
        export_onnx(model, tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


def test_onnx_backend_without_onnxruntime_is_a_runtime_error(model, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(RuntimeError, match=f"onnxruntime is not installed: {INSTALL}"):
        OnnxModel(b"not read")
    with pytest.raises(RuntimeError, match=f"onnxruntime is not installed: {INSTALL}"):
        onnx_model_of(model)


def test_the_cli_reports_the_missing_package_in_one_line(model, tmp_path, monkeypatch, capsys):
    model.save_pretrained(tmp_path / "model")
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert main(["export", "--model", str(tmp_path / "model"), "--output", str(tmp_path / "model.onnx")]) == 2
    assert capsys.readouterr().err.strip().endswith("pip install 'pcnn-fer[onnx]'")
