import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pcnn_fer.data.datasets import DATASET_NAMES
from pcnn_fer.data.names import AUGMENTATIONS
from pcnn_fer.engine import config as config_module
from pcnn_fer.engine.config import TrainConfig, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_defaults_are_the_papers_settings():
    config = TrainConfig()
    assert (config.optim.name, config.optim.lr, config.optim.momentum, config.optim.weight_decay) == \
        ("sgd", 0.01, 0.9, 1e-4)
    assert (config.schedule.name, config.schedule.step_size, config.schedule.gamma, config.schedule.epochs) == \
        ("step", 15, 0.5, 100)
    assert (config.data.batch_size, config.optim.loss_alpha, config.optim.loss_beta) == (128, 12.0, 8.0)
    assert config.augment.train == "reference" and config.augment.mean == [0.485, 0.456, 0.406]
    assert config.misc.select == "val"


@pytest.mark.parametrize("name", ["rafdb", "ferplus", "fer2013", "ckplus", "jaffe", "affectnet"])
def test_every_recipe_loads_with_the_papers_optimiser(name):
    config = load_config(CONFIGS / f"{name}.yaml")
    assert config.data.dataset == name
    assert (config.optim.lr, config.schedule.step_size, config.schedule.epochs) == (0.01, 15, 100)


def test_cross_validation_recipes_use_subject_independent_protocols():
    assert load_config(CONFIGS / "ckplus.yaml").data.protocol == "subject_kfold"
    assert load_config(CONFIGS / "jaffe.yaml").data.protocol == "leave_one_subject_out"


def test_unknown_key_in_a_recipe_names_it_and_the_allowed_keys(tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text(yaml.safe_dump({"optim": {"learning_rate": 0.1}}))
    with pytest.raises(ValueError, match=r"bad.yaml.*unknown key 'optim.learning_rate'.*allowed keys in optim: "
                                         r"name, lr, momentum"):
        load_config(recipe)


def test_unknown_group_names_the_groups(tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("optimizer: {lr: 0.1}\n")
    with pytest.raises(ValueError, match="unknown group 'optimizer'; allowed: data, model, optim"):
        load_config(recipe)


def test_wrong_type_names_the_key_and_the_expected_type(tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("schedule: {epochs: ten}\n")
    with pytest.raises(ValueError, match=r"schedule.epochs expects int, got 'ten'"):
        load_config(recipe)


def test_value_outside_the_choices_lists_the_allowed_values():
    with pytest.raises(ValueError, match="optim.name is 'adam'; allowed values: sgd, adamw"):
        load_config(None, [("optim.name", "adam")])


def test_lists_are_checked_element_by_element():
    with pytest.raises(ValueError, match="augment.mean expects a list of 3 float values"):
        load_config(None, [("augment.mean", [0.5, 0.5])])
    assert load_config(None, [("augment.std", [1, 1, 1])]).augment.std == [1.0, 1.0, 1.0]


def test_overrides_win_over_the_recipe_and_round_trip_through_yaml(tmp_path):
    config = load_config(CONFIGS / "rafdb.yaml", [("optim.lr", 0.001), ("ema.enabled", True)])
    assert config.optim.lr == 0.001 and config.ema.enabled
    saved = tmp_path / "config.yaml"
    saved.write_text(config.to_yaml())
    assert load_config(saved) == config


@pytest.mark.parametrize("key, value, allowed", [
    ("schedule.epochs", 0, "at least 1"), ("schedule.step_size", 0, "at least 1"),
    ("optim.accumulate", 0, "at least 1"), ("data.batch_size", -8, "at least 1"),
    ("optim.momentum", 1.5, "at least 0.0 and at most 1.0"),
    ("optim.betas", [0.9, 1.5], "at least 0.0 and at most 1.0"),
    ("optim.lr", 0, "more than 0.0"), ("optim.label_smoothing", 1.0, "at least 0.0 and less than 1.0"),
    ("data.val_fraction", 0.0, "more than 0.0 and less than 1.0"), ("schedule.gamma", 0.0, "more than 0.0"),
])
def test_numbers_out_of_range_name_the_key_and_the_allowed_range(tmp_path, key, value, allowed):
    group, name = key.split(".")
    recipe = tmp_path / "bad.yaml"
    recipe.write_text(yaml.safe_dump({group: {name: value}}))
    with pytest.raises(ValueError, match=rf"bad.yaml: {key} is .*; allowed: {allowed}$"):
        load_config(recipe)


def test_range_limits_themselves_are_accepted():
    config = load_config(None, [("schedule.epochs", 1), ("optim.accumulate", 1), ("optim.momentum", 0.0),
                                ("ema.decay", 1.0), ("data.workers", 0)])
    assert (config.schedule.epochs, config.optim.momentum, config.ema.decay) == (1, 0.0, 1.0)


def test_every_float_spelling_python_accepts_is_a_float(tmp_path):
    recipe = tmp_path / "floats.yaml"
    recipe.write_text("optim:\n  weight_decay: 5e-4\n  lr: 1E-2\n  betas: [9e-1, '0.99']\n")
    config = load_config(recipe, [("schedule.min_lr", "1e-6")])
    assert (config.optim.weight_decay, config.optim.lr, config.optim.betas) == (5e-4, 1e-2, [0.9, 0.99])
    assert config.schedule.min_lr == 1e-6
    with pytest.raises(ValueError, match="optim.lr expects float, got 'fast'"):
        load_config(None, [("optim.lr", "fast")])


def test_the_default_model_recipe_selects_on_validation_and_differs_from_the_papers():
    config = load_config(CONFIGS / "ferplus_cpu.yaml")
    assert (config.data.dataset, config.model.variant, config.model.input_size) == ("ferplus", "pcnn_mbv2", 64)
    assert config.misc.select == "val" and config.augment.train == "light"
    assert (config.optim.loss_alpha, config.optim.loss_beta) == (0.6, 0.4)  # the paper's 3 : 2, at a sane scale


def test_a_recipe_written_before_flip_tta_was_renamed_still_loads(tmp_path):
    recipe = tmp_path / "config.yaml"
    recipe.write_text("augment: {tta_flip: true}\n")
    config = load_config(recipe)
    assert config.augment.flip_tta is True
    assert "tta_flip" not in config.to_yaml() and "flip_tta: true" in config.to_yaml()


def test_the_names_the_recipe_offers_are_those_the_readers_and_transforms_know():
    from pcnn_fer.data.datasets import load_dataset
    from pcnn_fer.data.preprocessing import Preprocessing
    from pcnn_fer.data.transforms import train_transform

    for name in DATASET_NAMES:  # every offered name has a reader, which refuses a missing folder in its own words
        with pytest.raises((FileNotFoundError, ValueError)) as caught:
            load_dataset(name, "/nonexistent-dataset-root")
        assert "unknown dataset" not in str(caught.value)
    for policy in AUGMENTATIONS:
        train_transform(Preprocessing(32), policy=policy)


def test_reading_a_recipe_imports_no_torch():
    # The command line builds `pcnn-fer train`'s flags from the recipe: that must not cost a torch import.
    code = ("import sys, types; package = types.ModuleType('pcnn_fer'); package.__path__ = [sys.argv[1]]; "
            "sys.modules['pcnn_fer'] = package; import pcnn_fer.engine.config; "
            "print(sorted({'torch', 'numpy'} & set(sys.modules)))")
    source = str(Path(config_module.__file__).resolve().parents[1])
    assert subprocess.run([sys.executable, "-c", code, source], capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"
