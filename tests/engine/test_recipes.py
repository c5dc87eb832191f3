"""The shipped recipes: one per dataset of the paper, each readable and holding only what differs from the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pcnn_fer.engine.config import TrainConfig, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
RECIPES = sorted(CONFIGS.glob("*.yaml"))


def test_there_is_a_recipe_for_every_dataset_of_the_paper():
    datasets = {load_config(path).data.dataset for path in RECIPES}
    assert {"rafdb", "ferplus", "ckplus", "jaffe", "fer2013", "affectnet"} <= datasets


@pytest.mark.parametrize("path", RECIPES, ids=lambda path: path.name)
def test_a_recipe_sets_only_what_differs_from_the_defaults(path):
    defaults = TrainConfig().to_dict()
    written = yaml.safe_load(path.read_text())
    same = [f"{group}.{key}" for group, fields in written.items() for key, value in fields.items()
            if defaults[group][key] == value]
    assert same == [], f"{path.name} repeats defaults: {same}"
    assert load_config(path).to_dict() != defaults
