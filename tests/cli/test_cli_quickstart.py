import json

import pytest

from pcnn_fer.cli.main import main


@pytest.mark.slow
@pytest.mark.network
def test_quickstart_trains_on_the_ckplus_sample_and_writes_the_report(tmp_path, capsys):
    # Fewer epochs, folds and pixels than the default run, to keep the test short; the pipeline is the same.
    assert main(["quickstart", str(tmp_path), "--epochs", "1", "--folds", "2", "--input-size", "64", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "CK+ terms of use apply" in printed
    assert "demonstration of the pipeline on 58 real faces" in printed and "not an accuracy benchmark" in printed
    (run,) = tmp_path.glob("run-*")
    assert f"report: {run / 'report.md'}" in printed
    assert "test accuracy (main head): " in printed and "always answering 'neutral' would score" in printed
    assert f"pcnn-fer predict PHOTO --model {run / 'fold_01'}" in printed
    assert "not an accuracy benchmark" in (run / "report.md").read_text()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["folds"] == 2
    assert summary["heads"]["main"]["class_names"] == ["neutral", "anger", "happiness", "surprise"]
    folds = [json.loads((run / f"fold_0{i}" / "result.json").read_text()) for i in (1, 2)]
    subjects_tested = sum(f["test_samples"] for f in folds)
    assert subjects_tested == 58  # every image is tested exactly once across the folds
    for name in ("report.md", "plots/confusion_all_folds_main.png", "fold_01/plots/curves.png",
                 "fold_01/plots/test_confusion.png"):
        assert (run / name).is_file(), name
