"""One model reference: shipped names in any case, members, model directories and training runs all name a model
directory, and a reference that names nothing says in one line what was tried."""

from __future__ import annotations

import pytest

from pcnn_fer.models import create_model
from pcnn_fer.models.layout import CONFIG_FILE, SELECTED
from pcnn_fer.models.pcnn import PCNN
from pcnn_fer.models.pretrained import Pretrained
from pcnn_fer.models.registry import VARIANTS
from pcnn_fer.models.resolve import ModelNotFoundError, resolve_model

DEFAULT = Pretrained.DEFAULT.value


@pytest.mark.parametrize("reference", [None, DEFAULT.name, DEFAULT.name.upper(), Pretrained.DEFAULT, DEFAULT],
                         ids=["none", "name", "upper-case", "member", "entry"])
def test_the_default_is_named_every_way(reference):
    assert resolve_model(reference) == DEFAULT.path


def test_a_model_directory_is_itself_and_a_run_is_its_selected_model(tmp_path):
    (tmp_path / SELECTED).mkdir()
    (tmp_path / SELECTED / CONFIG_FILE).write_text("{}")
    assert resolve_model(tmp_path) == tmp_path / SELECTED
    assert resolve_model(str(tmp_path / SELECTED)) == tmp_path / SELECTED


def test_nothing_found_says_in_one_line_what_was_tried(tmp_path):
    with pytest.raises(ModelNotFoundError) as caught:
        resolve_model(tmp_path / "missing")
    message = str(caught.value)
    assert "\n" not in message
    for tried in (f"not a shipped model ({DEFAULT.name}", "not a model directory", "not a training run"):
        assert tried in message


def test_a_cross_validation_run_points_at_a_fold_and_a_file_at_its_directory(tmp_path):
    (tmp_path / "fold_01" / SELECTED).mkdir(parents=True)
    (tmp_path / "fold_01" / SELECTED / CONFIG_FILE).write_text("{}")
    with pytest.raises(ModelNotFoundError, match="cross-validation run: name one fold"):
        resolve_model(tmp_path)
    with pytest.raises(ModelNotFoundError, match="is a file: name the directory that holds config.json"):
        resolve_model(tmp_path / "fold_01" / SELECTED / CONFIG_FILE)


def test_python_entries_take_the_same_references():
    loaded = PCNN.from_pretrained(DEFAULT.name.upper())
    assert loaded.config == DEFAULT.config and loaded.metadata == DEFAULT.metadata
    assert Pretrained.DEFAULT.load().config == DEFAULT.config


def test_create_model_names_shipped_models_as_timm_does(monkeypatch):
    fresh = create_model(DEFAULT.name)
    trained = create_model(DEFAULT.name, pretrained=True)
    assert fresh.config == trained.config == DEFAULT.config
    variant = create_model("pcnn_mbv2", pretrained=True).state_dict()
    assert all(variant[k].equal(v) for k, v in trained.state_dict().items())
    assert create_model("pcnn_r18", pretrained=True).config == Pretrained.PCNN_R18_FERPLUS.config
    monkeypatch.setitem(VARIANTS, "pcnn_unshipped", {"backbone": "mobilenet_v2", "stn": False})
    with pytest.raises(ValueError, match="no shipped weights for pcnn_unshipped; shipped models: "):
        create_model("pcnn_unshipped", pretrained=True)
    with pytest.raises(ValueError, match="is a shipped model: its classes and fields are its own"):
        create_model(DEFAULT.name, num_classes=3)
