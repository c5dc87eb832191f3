import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from shapes import write_shapes_tree
from tiny_training import TINY

from pcnn_fer.cli.main import main


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
                 "--organ-weight", "0.5", "--flip-tta", "--workers", "0", "--quiet", "--output", str(out)]) == 0
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


def test_eval_skips_and_reports_an_unreadable_image_with_skip_bad(trained, tmp_path, capsys, caplog):
    root, data = trained
    damaged = shutil.copytree(data, tmp_path / "damaged")
    (damaged / "test" / "happiness" / "broken.png").write_bytes(b"\x89PNG not really")
    command = ["eval", "--model", str(root / "run"), "--dataset", "folder", "--data-root", str(damaged),
               "--workers", "0", "--quiet", "--output", str(tmp_path / "out")]
    assert main(command) == 2
    error = capsys.readouterr().err
    assert "broken.png" in error and "--skip-bad" in error and "Traceback" not in error
    assert main([*command, "--skip-bad"]) == 0
    assert json.loads((tmp_path / "out" / "test.json").read_text())["count"] == 6
    assert any("broken.png" in record.getMessage() for record in caplog.records)


def test_resuming_from_a_corrupt_training_state_is_a_one_line_error(trained, tmp_path, capsys):
    root, _ = trained
    run = shutil.copytree(root / "run", tmp_path / "run")
    (run / "result.json").unlink()  # unfinished, so resuming reads the last training state
    state = run / "last" / "training_state.pt"
    state.write_bytes(state.read_bytes()[:500])
    assert main(["train", "--resume", str(run)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and str(state) in error and "not a readable training state" in error


def test_predict_takes_a_run_directory_as_its_selected_model(trained, capsys):
    root, data = trained
    face = next((data / "test" / "happiness").iterdir())
    assert main(["predict", str(face), "--model", str(root / "run"), "--detector", "none", "--quiet"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert sorted(record["probabilities"]) == ["happiness", "sadness", "surprise"]


def test_predict_with_a_model_file_says_a_directory_is_expected(trained, capsys):
    root, data = trained
    face = next((data / "test" / "happiness").iterdir())
    weights = root / "run" / "selected" / "model.safetensors"
    assert main(["predict", str(face), "--model", str(weights), "--detector", "none", "--quiet"]) == 2
    error = capsys.readouterr().err
    assert f"{weights} is a file: name the directory that holds config.json" in error and len(error.splitlines()) == 1


def test_skip_bad_flag_sets_the_recipe_field():
    from pcnn_fer.cli.main import build_parser
    from pcnn_fer.cli.train import recipe_overrides

    args = build_parser().parse_args(["train", "--skip-bad"])
    assert ("data.skip_bad", True) in recipe_overrides(args)


# Classes in another order than the reader's default: the stratified folds then differ from a default read.
CV_OPTIONS = ["--data.protocol", "random_kfold", "--data.folds", "2", "--skip-bad",
              "--data.options", "{classes: 'surprise,sadness,happiness'}"]


@pytest.mark.parametrize("protocol", [[], ["--data.protocol", "random_kfold", "--data.folds", "2",
                                             "--data.run_folds", "[1]"]], ids=["single-split", "one-of-two-folds"])
def test_train_prints_the_test_accuracy_and_a_report_that_exists(tmp_path, capsys, protocol):
    data = write_shapes_tree(tmp_path / "data", train_per_class=4, test_per_class=2, size=48)
    assert main(["train", *TINY, *protocol, "--data-root", str(data), "--output", str(tmp_path), "--name", "r"]) == 0
    printed = capsys.readouterr().out
    report = next(line for line in printed.splitlines() if line.startswith("report: "))
    assert Path(report.removeprefix("report: ")).is_file()
    assert "test accuracy (main head): " in printed and "always answering '" in printed
    assert ("over 1 fold(s)" in printed) == bool(protocol)


@pytest.fixture(scope="module")
def cross_validated(tmp_path_factory):
    root = tmp_path_factory.mktemp("cv")
    data = write_shapes_tree(root / "data", train_per_class=4, test_per_class=2, size=48)
    (data / "train" / "happiness" / "broken.png").write_text("not a picture\n")
    assert main(["train", *TINY, *CV_OPTIONS, "--data-root", str(data), "--output", str(root), "--name", "cv"]) == 0
    return root / "cv", data


def test_cv_eval_scores_each_fold_as_training_recorded_it(cross_validated, tmp_path, capsys):
    run, data = cross_validated
    assert "broken.png" in (run / "skipped.txt").read_text()
    out = tmp_path / "eval"
    assert main(["eval", "--model", str(run), "--dataset", "folder", "--data-root", str(data), "--workers", "0",
                 "--quiet", "--output", str(out)]) == 0
    assert "over 2 folds" in capsys.readouterr().out
    for fold in ("fold_01", "fold_02"):
        recorded = json.loads((run / fold / "result.json").read_text())
        scored = json.loads((out / f"{fold}_test.json").read_text())
        assert scored["count"] == recorded["test_samples"] == recorded["test"]["main"]["count"]
        assert scored["confusion"] == recorded["test"]["main"]["confusion"]
        assert scored["accuracy"] == pytest.approx(recorded["test"]["main"]["accuracy"])


def test_cv_eval_refuses_reader_options_other_than_the_runs(cross_validated, tmp_path, capsys):
    run, data = cross_validated
    assert main(["eval", "--model", str(run), "--dataset", "folder", "--data-root", str(data), "--quiet",
                 "--option", "classes=happiness,sadness,surprise", "--output", str(tmp_path)]) == 2
    assert "differs from the reader options the run was trained with" in capsys.readouterr().err


def test_cv_eval_refuses_a_fold_whose_test_part_changed(cross_validated, tmp_path, capsys):
    run, data = cross_validated
    copy = tmp_path / "cv"
    shutil.copytree(run, copy)
    # The record says training tested one image more than the rebuilt fold holds, as after a dataset change.
    result = copy / "fold_02" / "result.json"
    recorded = json.loads(result.read_text())
    result.write_text(json.dumps({**recorded, "test_samples": recorded["test_samples"] + 1}))
    assert main(["eval", "--model", str(copy), "--dataset", "folder", "--data-root", str(data), "--quiet",
                 "--workers", "0", "--output", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert f"fold_02: training tested {recorded['test_samples'] + 1} sample(s)" in error
    assert not (tmp_path / "out").exists()  # refused before any fold was scored


def test_cv_eval_refuses_a_fold_whose_test_samples_changed_though_not_their_count(cross_validated, tmp_path,
                                                                                  capsys):
    run, data = cross_validated
    copy = shutil.copytree(run, tmp_path / "cv")
    result = copy / "fold_01" / "result.json"
    recorded = json.loads(result.read_text())
    assert len(recorded["test_fingerprint"]) == 64
    result.write_text(json.dumps({**recorded, "test_fingerprint": "0" * 64}))
    assert main(["eval", "--model", str(copy), "--dataset", "folder", "--data-root", str(data), "--quiet",
                 "--workers", "0", "--output", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "fold_01: the fold rebuilt from" in error and "not the same ones" in error and str(result) in error
    assert not (tmp_path / "out").exists()


def test_cv_eval_of_a_record_without_a_fingerprint_checks_the_count(cross_validated, tmp_path, capsys):
    run, data = cross_validated
    copy = shutil.copytree(run, tmp_path / "cv")
    for fold in ("fold_01", "fold_02"):
        result = copy / fold / "result.json"
        result.write_text(json.dumps({k: v for k, v in json.loads(result.read_text()).items()
                                      if k != "test_fingerprint"}))
    assert main(["eval", "--model", str(copy), "--dataset", "folder", "--data-root", str(data), "--quiet",
                 "--workers", "0", "--output", str(tmp_path / "out")]) == 0
    assert "over 2 folds" in capsys.readouterr().out


def test_building_the_command_line_imports_no_torch():
    # `pcnn-fer train --help` and friends answer at once: torch loads when a command runs, not when parsing.
    code = ("import argparse, sys, types; package = types.ModuleType('pcnn_fer'); package.__path__ = [sys.argv[1]]; "
            "package.__version__ = '0'; sys.modules['pcnn_fer'] = package; import importlib; "
            "commands = argparse.ArgumentParser().add_subparsers(); "
            "[importlib.import_module(f'pcnn_fer.cli.{name}').register(commands) "
            "for name in ('train', 'eval', 'data', 'quickstart')]; "
            "print(sorted({'torch', 'numpy', 'PIL'} & set(sys.modules)))")
    source = str(Path(__file__).resolve().parents[2] / "src" / "pcnn_fer")
    assert subprocess.run([sys.executable, "-c", code, source], capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"


def test_cv_eval_of_a_run_trained_in_memory_says_why_it_cannot(tmp_path, capsys):
    from shapes import make_shapes

    from pcnn_fer.engine.config import load_config
    from pcnn_fer.engine.train import train

    config = load_config(None, [
        ("data.dataset", "folder"), ("data.protocol", "random_kfold"), ("data.folds", 2),
        ("model.variant", "pcnn_mbv2"), ("model.pretrained", "none"), ("model.input_size", 48),
        ("data.batch_size", 6), ("data.workers", 0), ("schedule.epochs", 1), ("misc.select", "last"),
        ("misc.output", str(tmp_path)), ("misc.name", "memory"), ("misc.quiet", True)])
    run = train(config, samples=make_shapes(train_per_class=2, test_per_class=1, size=48))
    data = write_shapes_tree(tmp_path / "data", train_per_class=2, test_per_class=1, size=48)
    assert main(["eval", "--model", str(run), "--dataset", "folder", "--data-root", str(data), "--quiet",
                 "--output", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "trained on samples built in memory" in error and "folds cannot be rebuilt" in error


RAFDB_TEST = [("test_0001", 1), ("test_0002", 7), ("test_0003", 4), ("test_0004", 4), ("test_0005", 6),
              ("test_0006", 5)]


@pytest.fixture
def rafdb_and_model(tmp_path):
    """A RAF-DB `basic` tree (label file with 1-based labels, aligned images) and an untrained RAF-DB model."""
    from PIL import Image

    from pcnn_fer.data.labels import RAFDB_CLASSES
    from pcnn_fer.models import create_model

    root = tmp_path / "basic"
    rng = np.random.default_rng(0)
    entries = [("train_00001", 2), ("train_00002", 3), *RAFDB_TEST]
    for stem, _ in entries:
        path = root / "Image" / "aligned" / f"{stem}_aligned.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(path)
    (root / "EmoLabel").mkdir()
    (root / "EmoLabel" / "list_patition_label.txt").write_text("".join(f"{s}.jpg {lab}\n" for s, lab in entries))
    torch.manual_seed(0)
    model = create_model("pcnn_mbv2", class_names=RAFDB_CLASSES, input_size=48)
    return root, model.save_pretrained(tmp_path / "model")


def test_eval_scores_the_occlusion_rafdb_subset(rafdb_and_model, tmp_path, capsys):
    root, model = rafdb_and_model
    occlusion = tmp_path / "rafdb_occlusion_list.txt"
    # The published format: `test_NNNN_aligned <label 0-6> <type>`, labels 0-based in RAF-DB's order.
    occlusion.write_text("test_0001_aligned 0 glasses\ntest_0003_aligned 3 hand\ntest_0006_aligned 4 mask\n")
    out = tmp_path / "out"
    assert main(["eval", "--model", str(model), "--dataset", "rafdb", "--data-root", str(root), "--workers", "0",
                 "--quiet", "--subset", f"occlusion-rafdb={occlusion}", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "occlusion-rafdb" in printed
    test = json.loads((out / "test.json").read_text())
    subset = json.loads((out / "occlusion-rafdb.json").read_text())
    assert test["count"] == 6 and subset["count"] == 3
    assert {n: c["support"] for n, c in subset["per_class"].items() if c["support"]} == \
        {"surprise": 1, "happiness": 1, "sadness": 1}
    # The same model on the same images: the subset's predictions are a part of the test set's.
    assert (np.array(subset["confusion"]) <= np.array(test["confusion"])).all()
    assert (out / "occlusion-rafdb_confusion.png").is_file()


def test_eval_subset_with_a_disagreeing_label_fails_or_is_skipped(rafdb_and_model, tmp_path, capsys):
    root, model = rafdb_and_model
    occlusion = tmp_path / "rafdb_occlusion_list.txt"
    occlusion.write_text("test_0001_aligned 0 glasses\ntest_0002_aligned 0 hand\n")  # test_0002 is neutral (6)
    command = ["eval", "--model", str(model), "--dataset", "rafdb", "--data-root", str(root), "--workers", "0",
               "--quiet", "--subset", f"occlusion-rafdb={occlusion}", "--output", str(tmp_path / "out")]
    assert main(command) == 2
    assert "test_0002: the list says surprise (0), rafdb says neutral (6)" in capsys.readouterr().err
    assert main([*command, "--skip-bad"]) == 0
    assert json.loads((tmp_path / "out" / "occlusion-rafdb.json").read_text())["count"] == 1


def test_eval_of_a_dataset_without_an_official_split_names_the_flag_that_works(tiny_model_dir, tmp_path, capsys):
    # Like the CK+ sample: faces in one folder per class, no train / test parts.
    folder = tmp_path / "faces" / "happiness"
    folder.mkdir(parents=True)
    for seed in range(2):
        pixels = np.random.default_rng(seed).integers(0, 256, (96, 96, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{seed}.png")
    command = ["eval", "--model", str(tiny_model_dir), "--dataset", "folder", "--data-root", str(tmp_path / "faces"),
               "--workers", "0", "--output", str(tmp_path / "eval"), "--quiet"]
    assert main(command) == 2
    error = capsys.readouterr().err
    assert "has no official split" in error and "--split all" in error and "subject_kfold" not in error
    assert main([*command, "--split", "all"]) == 0
