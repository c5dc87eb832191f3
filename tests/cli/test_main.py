"""The entry point: every command registered, and help that loads no deep-learning stack."""

from __future__ import annotations

import json
import subprocess
import sys

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
