"""`pcnn-fer predict --annotate OUTDIR --box-only`: annotated copies with boxes and labels, without panels."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pcnn_fer.cli.main import main
from pcnn_fer.inference.draw import BAR_COLOUR


def bar_pixels(path) -> int:
    return int((np.asarray(Image.open(path).convert("RGB")) == BAR_COLOUR).all(axis=-1).sum())


@pytest.mark.network
def test_box_only_leaves_the_probability_panel_out(tiny_model_dir, pyfeat_data, tmp_path, capsys):
    photo = tmp_path / "portrait.png"  # PNG, so that the copies keep the bars' exact colour
    Image.open(pyfeat_data / "0-f1-su-ph.jpg").save(photo)  # a portrait with room for a panel above the face
    arguments = ["predict", str(photo), "--model", str(tiny_model_dir), "--quiet", "--format", "csv"]
    assert main([*arguments, "--annotate", str(tmp_path / "panels")]) == 0
    assert main([*arguments, "--annotate", str(tmp_path / "boxes"), "--box-only"]) == 0
    capsys.readouterr()
    assert bar_pixels(tmp_path / "panels" / "portrait.png") > 0
    assert bar_pixels(tmp_path / "boxes" / "portrait.png") == 0


def test_box_only_needs_annotate(tiny_model_dir, tmp_path, capsys):
    Image.fromarray(np.full((96, 96, 3), 128, dtype=np.uint8)).save(tmp_path / "a.png")
    assert main(["predict", str(tmp_path / "a.png"), "--model", str(tiny_model_dir), "--box-only"]) == 2
    assert "--box-only applies to the annotated output: give --annotate OUTDIR too" in capsys.readouterr().err
