"""The training campaigns in scripts/: every run they start is a recipe `pcnn-fer train` accepts, and each row
of an ablation changes something. Run with a stand-in for python3 that records its arguments."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from pcnn_fer.cli.main import build_parser
from pcnn_fer.cli.train import recipe_overrides
from pcnn_fer.engine.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SEPARATOR = "\x1f"


def _recorded_runs(tmp_path: Path, *command: str) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    """Run a campaign script with python3 replaced by a recorder; the argument lists it was called with. Each call
    writes its own file: a campaign starts runs in the background, and their records must not interleave."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    calls.mkdir()
    recorder = bin_dir / "python3"
    recorder.write_text(f'#!/usr/bin/env bash\nprintf "%s{SEPARATOR}" "$@" > "$(mktemp "{calls}/call.XXXXXX")"\n')
    recorder.chmod(0o755)
    environment = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", *command], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60)
    return done, [call.read_text().split(SEPARATOR)[:-1] for call in sorted(calls.iterdir())]


def _recipe(arguments: list[str]) -> dict:
    assert arguments[:3] == ["-m", "pcnn_fer", "train"]
    args = build_parser().parse_args(arguments[2:])
    return load_config(args.config, recipe_overrides(args)).to_dict()


def _changed(recipe: dict, base: dict) -> set[str]:
    return {f"{group}.{key}" for group, fields in recipe.items() for key, value in fields.items()
            if base[group][key] != value and key != "name"}


def test_every_row_of_the_cpu_ablation_is_a_valid_recipe_that_changes_the_base(tmp_path):
    done, runs = _recorded_runs(tmp_path, "scripts/ablate_ferplus_cpu.sh", "DATA", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    recipes = {recipe["misc"]["name"]: recipe for recipe in map(_recipe, runs)}
    assert len(recipes) == len(runs) >= 10
    base = recipes.pop("ablate-base")
    assert base["model"]["pretrained"] == "pcnn_mbv2_ferplus" and base["schedule"]["epochs"] == 3
    assert base["data"]["root"] == "DATA"
    changes = {name: _changed(recipe, base) for name, recipe in recipes.items()}
    assert [name for name, changed in changes.items() if not changed] == []
    assert changes["ablate-mixup"] == {"augment.mixup"}
    assert changes["ablate-sampler"] == {"data.balanced"}


def test_an_unknown_row_stops_the_ablation_before_any_run(tmp_path):
    done, runs = _recorded_runs(tmp_path, "scripts/ablate_ferplus_cpu.sh", "DATA", str(tmp_path / "out"),
                                "base", "no-such-row")
    assert done.returncode == 2 and "no-such-row" in done.stderr
    assert runs == []


def test_every_run_of_the_gpu_campaign_is_a_valid_recipe(tmp_path):
    done, runs = _recorded_runs(tmp_path, "scripts/train_ferplus_gpu.sh", "DATA", str(tmp_path / "out"), "600")
    assert done.returncode == 0, done.stderr
    names = [_recipe(arguments)["misc"]["name"] for arguments in runs]
    assert len(set(names)) == len(names) and "ferplus-r18" in names
    assert any(name.endswith("distill") for name in names)
