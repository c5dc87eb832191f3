"""`pcnn-fer convert`: an authors' checkpoint becomes a model directory that predicts like the reference."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from pcnn_fer import load_model
from pcnn_fer.cli.main import main
from pcnn_fer.weights.sources import sha256_of

RAFDB = ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")


def test_convert_then_load_gives_the_reference_outputs(tmp_path: Path, reference_case, capsys) -> None:
    assert main(["convert", str(reference_case.checkpoint), str(tmp_path / "rafdb"), "--classes", "rafdb"]) == 0
    printed = capsys.readouterr().out
    assert "loaded 586 tensors" in printed and "resnet4 (122)" in printed and "__main__.RecorderMeter" in printed

    model = load_model(tmp_path / "rafdb")
    assert model.class_names == RAFDB
    source = model.metadata.source
    assert source["file"] == reference_case.checkpoint.name
    assert source["sha256"] == sha256_of(reference_case.checkpoint)
    with torch.no_grad():
        reference_case.assert_matches(model(reference_case.images))


def test_class_list_must_match_the_checkpoint(tmp_path: Path, reference_case, capsys) -> None:
    assert main(["convert", str(reference_case.checkpoint), str(tmp_path / "out"), "--classes", "a, b ,c"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("pcnn-fer convert: error: ") and "7 outputs but 3 class names" in error
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("spec", ["happiness", "a,,b"])
def test_malformed_class_list_is_refused(tmp_path: Path, capsys, spec: str) -> None:
    torch.save({"w": torch.zeros(1)}, tmp_path / "x.pth")
    assert main(["convert", str(tmp_path / "x.pth"), str(tmp_path / "out"), "--classes", spec]) == 2
    assert "--classes: expected a dataset name" in capsys.readouterr().err


def test_hostile_checkpoint_is_refused_without_running(tmp_path: Path, capsys) -> None:
    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {tmp_path / 'ran'}",)

    torch.save({"state_dict": {}, "recorder": Payload()}, tmp_path / "rafdb.pth")
    assert main(["convert", str(tmp_path / "rafdb.pth"), str(tmp_path / "out")]) == 2
    assert "refusing it" in capsys.readouterr().err
    assert not (tmp_path / "ran").exists() and not (tmp_path / "out").exists()
