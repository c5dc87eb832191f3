"""Damaged or mistyped files a user may hand any command: one line on stderr naming the file, exit status 2."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from pcnn_fer.cli.main import main

DAMAGE = {
    "truncated": lambda data: data[: len(data) // 3],
    "empty": lambda data: b"",
    "garbage": lambda data: np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
}


@pytest.fixture()
def photo(tmp_path):
    path = tmp_path / "face.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(path)
    return path


def _command(name: str, model, photo, tmp_path) -> list[str]:
    if name == "predict":
        return ["predict", str(photo), "--model", str(model), "--detector", "none", "--quiet"]
    if name == "export":
        return ["export", "--model", str(model), "--output", str(tmp_path / "m.onnx")]
    folder = tmp_path / "faces" / "happiness"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(photo, folder / "a.png")
    return ["eval", "--model", str(model), "--dataset", "folder", "--data-root", str(tmp_path / "faces"),
            "--split", "all", "--workers", "0", "--quiet"]


def _one_line_error(capsys, *needles: str) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


@pytest.mark.parametrize("command", ["predict", "export", "eval"])
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_weights_file_is_a_one_line_error_naming_it(tiny_model_dir, photo, tmp_path, capsys, command,
                                                              damage):
    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    weights = model / "model.safetensors"
    weights.write_bytes(DAMAGE[damage](weights.read_bytes()))
    assert main(_command(command, model, photo, tmp_path)) == 2
    _one_line_error(capsys, str(weights), "safetensors")


@pytest.mark.parametrize("command", ["predict", "eval"])
def test_an_unknown_device_is_a_one_line_error(tiny_model_dir, photo, tmp_path, capsys, command):
    assert main([*_command(command, tiny_model_dir, photo, tmp_path), "--device", "banana"]) == 2
    _one_line_error(capsys, "'banana'", "cpu")


def test_a_mistyped_input_size_in_config_json_is_refused_naming_the_file(tiny_model_dir, photo, tmp_path, capsys):
    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    document = json.loads((model / "config.json").read_text())
    document["config"]["input_size"] = "big"
    (model / "config.json").write_text(json.dumps(document))
    assert main(_command("predict", model, photo, tmp_path)) == 2
    _one_line_error(capsys, str(model / "config.json"), "input_size", "'big'")


def test_random_bytes_in_config_json_are_refused_naming_the_file(tiny_model_dir, photo, tmp_path, capsys):
    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    (model / "config.json").write_bytes(DAMAGE["garbage"](b""))
    assert main(_command("predict", model, photo, tmp_path)) == 2
    _one_line_error(capsys, str(model / "config.json"), "JSON")
