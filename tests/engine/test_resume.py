"""A run killed with SIGKILL, or stopped with Ctrl-C, and resumed ends as the uninterrupted run does."""

import json
import signal
import subprocess
import sys
import time

import pytest
from shapes import write_shapes_tree

TIMED = ("train_images_per_s", "epoch_time_s")


def command(data, output, name, *extra):
    return [sys.executable, "-m", "pcnn_fer.cli.main", "train", "--dataset", "folder", "--data-root", str(data),
            "--variant", "pcnn_mbv2", "--pretrained", "none", "--model.input_size", "48", "--batch-size", "6",
            "--workers", "0", "--epochs", "4", "--augment.train", "reference", "--select", "val",
            "--data.val_fraction", "0.25", "--deterministic", "--seed", "3", "--threads", "1", "--quiet",
            "--output", str(output), "--name", name, *extra]


def metrics(run):
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in TIMED} for r in records]


def stop_after_epochs(cmd, run, epochs, signum):
    """Start `cmd`, and send `signum` once `epochs` epochs are on record."""
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if (run / "metrics.jsonl").is_file() and len(metrics(run)) >= epochs:
            process.send_signal(signum)
            break
        time.sleep(0.05)
    _, err = process.communicate(timeout=300)
    return process.returncode, err


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    data = write_shapes_tree(root / "data", train_per_class=8, test_per_class=2, size=48)
    subprocess.run(command(data, root / "runs", "whole"), check=True, capture_output=True, timeout=600)
    return root, data, metrics(root / "runs" / "whole"), json.loads((root / "runs/whole/result.json").read_text())


@pytest.mark.slow
def test_sigkill_then_resume_equals_the_uninterrupted_run(reference):
    root, data, expected, expected_result = reference
    run = root / "runs" / "killed"
    code, _ = stop_after_epochs(command(data, root / "runs", "killed"), run, 2, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert not (run / "result.json").exists()
    subprocess.run(command(data, root / "runs", "killed", "--resume", str(run)), check=True, capture_output=True,
                   timeout=600)
    assert metrics(run) == expected
    assert json.loads((run / "result.json").read_text())["test"] == expected_result["test"]


@pytest.mark.slow
def test_ctrl_c_saves_exits_cleanly_and_resumes_to_the_same_end(reference):
    root, data, expected, _ = reference
    run = root / "runs" / "interrupted"
    code, err = stop_after_epochs(command(data, root / "runs", "interrupted"), run, 1, signal.SIGINT)
    assert code == 130, err
    assert "resume with --resume" in err and "Traceback" not in err
    subprocess.run(command(data, root / "runs", "interrupted", "--resume", str(run)), check=True,
                   capture_output=True, timeout=600)
    assert metrics(run) == expected
