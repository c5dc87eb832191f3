import json
import shutil

import pytest
from shapes import write_shapes_tree

from pcnn_fer.cli.main import main

TINY = ["--dataset", "folder", "--variant", "pcnn_mbv2", "--pretrained", "none", "--model.input_size", "48",
        "--batch-size", "6", "--workers", "0", "--epochs", "1", "--select", "last", "--threads", "1", "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data = write_shapes_tree(root / "data", train_per_class=4, test_per_class=2, size=48)
    assert main(["train", *TINY, "--data-root", str(data), "--output", str(root), "--name", "run"]) == 0
    return root, data


def test_train_writes_a_run_directory_and_reports_it(trained, capsys):
    root, _ = trained
    assert (root / "run" / "report.md").is_file()
    assert json.loads((root / "run" / "result.json").read_text())["test"]["main"]["count"] == 6


def test_unknown_recipe_key_exits_2_naming_the_key(tmp_path, capsys):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("optim: {lr: 0.1, momentun: 0.9}\n")
    assert main(["train", "--config", str(recipe)]) == 2
    error = capsys.readouterr().err
    assert "unknown key 'optim.momentun'" in error and "momentum" in error


def test_set_overrides_are_type_checked(capsys):
    assert main(["train", "--set", "schedule.epochs=many"]) == 2
    assert "schedule.epochs expects int, got 'many'" in capsys.readouterr().err


def test_eval_scores_the_selected_model_with_the_organ_head_option(trained, capsys):
    root, data = trained
    out = root / "eval"
    assert main(["eval", "--model", str(root / "run"), "--dataset", "folder", "--data-root", str(data),
                 "--organ-weight", "0.5", "--tta-flip", "--workers", "0", "--quiet", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "main+0.5*organs" in printed
    metrics = json.loads((out / "test.json").read_text())
    assert metrics["count"] == 6 and len(metrics["confusion"]) == 3
    assert (out / "test_confusion.png").is_file()


def test_cross_dataset_eval_matches_classes_by_name(trained, tmp_path, capsys):
    root, data = trained
    # Another dataset: two of the three classes, spelt differently, in another order.
    other = tmp_path / "other" / "test"
    shutil.copytree(data / "test" / "surprise", other / "Surprised")
    shutil.copytree(data / "test" / "happiness", other / "happy")
    assert main(["eval", "--model", str(root / "run" / "selected"), "--dataset", "folder",
                 "--data-root", str(tmp_path / "other"), "--workers", "0", "--quiet",
                 "--output", str(tmp_path / "out")]) == 0
    metrics = json.loads((tmp_path / "out" / "test.json").read_text())
    assert metrics["class_names"] == ["happiness", "sadness", "surprise"]  # the model's order
    support = {name: c["support"] for name, c in metrics["per_class"].items()}
    assert support == {"happiness": 2, "sadness": 0, "surprise": 2}
