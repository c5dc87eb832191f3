"""The entry point: every command registered, help that loads no deep-learning stack, error lines in the tool's
own words only."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from pcnn_fer.cli.main import COMMAND_MODULES, build_parser, main
from pcnn_fer.version import __version__

HEAVY = ("torch", "torchvision", "cv2", "onnxruntime", "matplotlib", "PIL", "fastapi", "uvicorn")


def _modules_loaded_by(code: str) -> list[str]:
    """The heavy modules a fresh interpreter has imported after running `code`."""
    probe = f"import sys\n{code}\nimport json; print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_pcnn_fer_loads_no_heavy_module_until_a_name_needs_it():
    assert _modules_loaded_by("import pcnn_fer") == []
    assert "torch" in _modules_loaded_by("import pcnn_fer; pcnn_fer.PCNN")


@pytest.mark.parametrize("command", [None, *COMMAND_MODULES])
def test_help_of_every_command_loads_no_heavy_module(command):
    argv = ["--help"] if command is None else [command, "--help"]
    code = (f"from pcnn_fer.cli.main import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass")
    assert _modules_loaded_by(code) == []


def test_every_command_module_is_registered_and_the_version_is_the_package_s(capsys):
    choices = build_parser()._subparsers._group_actions[0].choices
    assert set(COMMAND_MODULES) <= set(choices)
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"pcnn-fer {__version__}"


def test_an_unknown_name_is_told_without_the_quotes_of_a_key_error(capsys):
    assert main(["models", "nonexistent"]) == 2
    assert capsys.readouterr().err.startswith("pcnn-fer models: error: no shipped model named 'nonexistent'; ")


def test_verbose_raises_the_error_with_its_cause_and_a_bug_is_never_one_line(tiny_model_dir, tmp_path, monkeypatch):
    from safetensors import SafetensorError

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_bytes((tiny_model_dir / "config.json").read_bytes())
    (model / "model.safetensors").write_bytes(b"not tensors")
    with pytest.raises(ValueError, match="is not a readable safetensors file") as caught:
        main(["-v", "export", "--model", str(model), "--output", str(tmp_path / "m.onnx")])
    assert isinstance(caught.value.__cause__, SafetensorError)  # the original error travels with the message

    def bug(args):
        return {}["a key that a bug forgot"]

    monkeypatch.setattr("pcnn_fer.cli.models.run", bug)
    with pytest.raises(KeyError):  # a bug is a traceback, not an "error:" line
        main(["models"])


def _run_cli(*argv: str) -> subprocess.CompletedProcess:
    """The command in a fresh interpreter, as a user runs it: OpenCV reads its log settings once, when it opens its
    first video, so only a new process shows what it prints. Settings exported here are left out."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("OPENCV_")}
    return subprocess.run([sys.executable, "-m", "pcnn_fer", *argv], capture_output=True, text=True, timeout=300,
                          env=environment)


def test_third_party_messages_stay_off_stderr_unless_verbose(tmp_path):
    clip = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (96, 96))
    for i in range(20):
        writer.write(np.full((96, 96, 3), 10 * i, dtype=np.uint8))
    writer.release()
    truncated = tmp_path / "truncated.mp4"  # cut before the index an mp4 keeps at its end, as a killed writer leaves it
    truncated.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    # FFmpeg says "moov atom not found" for the clip, OpenCV warns of a camera it cannot open.
    result = _run_cli("predict", str(truncated), "--webcam", "9", "--detector", "none")
    assert result.returncode == 1
    assert result.stderr == "pcnn-fer predict: 2 input(s): 0 processed, 2 failed, 0 face record(s)\n"
    assert [json.loads(line)["status"] for line in result.stdout.splitlines()] == ["error", "error"]
    verbose = _run_cli("-v", "predict", str(truncated), "--detector", "none", "--quiet")
    assert "moov atom not found" in verbose.stderr
