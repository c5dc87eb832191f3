"""Two gloo processes under torchrun train as one process does with the same global batch.

BatchNorm normalises each process's half batch on its own, so the two runs would differ by design; the
comparison freezes BatchNorm statistics (model.freeze_bn), which makes every step's gradient the mean over
the same global batch in both runs. What remains is float summation order, hence the 1e-4 tolerance.
"""

import json
import subprocess
import sys

import pytest
from shapes import write_shapes_tree

COMPARED = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")


def command(launcher, data, output, name):
    return [*launcher, "-m", "pcnn_fer.cli.main", "train", "--dataset", "folder", "--data-root", str(data),
            "--variant", "pcnn_mbv2", "--pretrained", "none", "--model.input_size", "48", "--batch-size", "8",
            "--workers", "0", "--epochs", "2", "--augment.train", "none", "--model.freeze_bn", "--optim.lr", "0.005",
            "--select", "val", "--data.val_fraction", "0.25", "--seed", "0", "--threads", "1", "--quiet",
            "--output", str(output), "--name", name]


@pytest.mark.slow
def test_two_process_gloo_run_matches_one_process(tmp_path):
    data = write_shapes_tree(tmp_path / "data", train_per_class=8, test_per_class=4, size=48)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    for launcher, name in (([sys.executable], "single"), (torchrun, "double")):
        done = subprocess.run(command(launcher, data, tmp_path, name), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    runs = {name: [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
            for name in ("single", "double")}
    assert len(runs["double"]) == 2
    for one, two in zip(runs["single"], runs["double"]):
        for key in COMPARED:
            assert two[key] == pytest.approx(one[key], rel=1e-4, abs=1e-5), key
    results = {name: json.loads((tmp_path / name / "result.json").read_text()) for name in runs}
    assert results["double"]["test"]["main"]["confusion"] == results["single"]["test"]["main"]["confusion"]
    assert not list((tmp_path / "double").glob("fold_*"))
