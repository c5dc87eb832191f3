"""`pcnn-fer export`: an ONNX file that `pcnn-fer predict --backend onnx` then uses."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest
from PIL import Image

from pcnn_fer.cli.main import main


@pytest.mark.slow
def test_export_then_predict_with_onnxruntime_gives_the_torch_answers(tiny_model_dir, tmp_path, capsys):
    model_dir = shutil.copytree(tiny_model_dir, tmp_path / "model")
    assert main(["export", "--model", str(model_dir), "--format", "onnx", "--output",
                 str(model_dir / "model.onnx")]) == 0
    message = capsys.readouterr().out
    assert "opset 18" in message and "max |logit difference|" in message
    assert [o.version for o in onnx.load(str(model_dir / "model.onnx")).opset_import if o.domain == ""] == [18]
    photos = []
    for seed in range(2):
        photos.append(tmp_path / f"face{seed}.png")
        Image.fromarray(np.random.default_rng(seed).integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(photos[-1])
    answers = {}
    for backend in ("torch", "onnx"):
        assert main(["predict", *map(str, photos), "--model", str(model_dir), "--detector", "none", "--backend",
                     backend, "--quiet"]) == 0
        answers[backend] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    for torch_line, onnx_line in zip(answers["torch"], answers["onnx"]):
        assert torch_line["label"] == onnx_line["label"]
        assert torch_line["probabilities"] == pytest.approx(onnx_line["probabilities"], abs=1e-5)


def test_export_of_a_missing_model_is_a_one_line_error(tmp_path, capsys):
    assert main(["export", "--model", str(tmp_path), "--output", str(tmp_path / "m.onnx")]) == 2
    assert "config.json" in capsys.readouterr().err


def test_predict_on_onnx_without_an_export_says_how_to_make_one_and_exports_nothing(tiny_model_dir, tmp_path,
                                                                                   capsys, monkeypatch):
    monkeypatch.setenv("PCNN_FER_CACHE", str(tmp_path / "cache"))
    model_dir = shutil.copytree(tiny_model_dir, tmp_path / "model")
    image = tmp_path / "face.png"
    Image.fromarray(np.zeros((96, 96, 3), dtype=np.uint8)).save(image)
    code = main(["predict", str(image), "--model", str(model_dir), "--detector", "none", "--backend", "onnx",
                 "--quiet"])
    error = capsys.readouterr().err
    assert code == 2 and len(error.strip().splitlines()) == 1
    assert "no ONNX export yet" in error and "--export-onnx" in error
    assert not (tmp_path / "cache").exists() and not (model_dir / "model.onnx").exists()
