"""The run directory: resolved recipe, environment, per-epoch metrics and checkpoints that are never half-written.

A checkpoint is a directory: the model as a pcnn-fer model directory (config.json + model.safetensors) and,
for resuming, training_state.pt holding optimiser, scheduler, scaler, EMA and RNG states. That file holds
tensors and plain containers only and is read with torch.load(weights_only=True), so loading it runs no code.

A checkpoint is written to `<name>.partial/` and swapped in by renaming: `<name>/` always holds either the
previous complete checkpoint or the new one (`<name>.previous/` bridges the instant between two renames).

When the kept model is the last epoch's own weights (misc.select last without EMA), they are stored once, in
selected/, and last/ keeps the training state alone, taking its weights from there.

Every file name of the layout is spelt here, once; those that inference reads too (a model directory's files,
selected/, fold_NN/) in models.layout.
"""

from __future__ import annotations

import csv
import functools
import json
import platform
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from pcnn_fer.atomic import atomic_path, previous_path, write_text
from pcnn_fer.models.layout import CONFIG_FILE, FOLD_PREFIX, SELECTED, WEIGHTS_FILE
from pcnn_fer.models.metadata import ModelMetadata
from pcnn_fer.models.pcnn import PCNN
from pcnn_fer.models.storage import load_model, save_model

RECIPE_FILE = "config.yaml"  # the resolved recipe (a model directory's own config.json is models.storage's)
ENVIRONMENT_FILE = "environment.json"
METRICS_FILE = "metrics.jsonl"
METRICS_TABLE = "metrics.csv"
SKIPPED_FILE = "skipped.txt"
PLOTS_DIR = "plots"
CURVES_FILE = "curves.png"  # in PLOTS_DIR
TENSORBOARD_DIR = "tensorboard"
STATE_FILE = "training_state.pt"
LAST = "last"
FAILED_FILE = "failed.txt"
RESULT_FILE = "result.json"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.md"


def fold_name(index: int) -> str:
    """The name (and run subdirectory) of fold `index` (1-based) of a cross-validation run."""
    return f"{FOLD_PREFIX}{index:02d}"


class RunDir:
    """Files of one training run (or of one fold of a cross-validation run)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def create(self) -> RunDir:
        """Make the run folder and its plots folder."""
        self.plots.mkdir(parents=True, exist_ok=True)
        return self

    def abandon(self, error: BaseException, made_here: bool) -> None:
        """After a failure: remove a run folder made by this call that holds no checkpoint yet, since nothing in
        it can be resumed; otherwise mark it failed, with the error, for `--resume`."""
        if not self.path.exists():
            return
        resumable = any(self.path.rglob(STATE_FILE)) or any(self.path.rglob(RESULT_FILE))
        if made_here and not resumable:
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            self.write_text(FAILED_FILE, f"{type(error).__name__}: {error}\n")

    def clear_failure(self) -> None:
        """Remove the failure mark once a resumed run went through."""
        (self.path / FAILED_FILE).unlink(missing_ok=True)

    @property
    def plots(self) -> Path:
        """The folder of figures and per-split metrics."""
        return self.path / PLOTS_DIR

    def fold_runs(self) -> list[RunDir]:
        """The folds of a cross-validation run that hold a selected model, in fold order."""
        folds = (RunDir(p) for p in sorted(self.path.glob(f"{FOLD_PREFIX}*")) if p.is_dir())
        return [fold for fold in folds if fold.checkpoint_path(SELECTED) is not None]

    def write_text(self, name: str, text: str) -> Path:
        """Write a small file atomically."""
        return write_text(self.path / name, text)

    def write_json(self, name: str, document: object) -> Path:
        """Write a small JSON file atomically."""
        return self.write_text(name, json.dumps(document, indent=2) + "\n")

    def write_environment(self) -> Path:
        """Versions, platform, command line and git revision: what it takes to rerun this."""
        from pcnn_fer.version import __version__

        return self.write_json(ENVIRONMENT_FILE, {
            "pcnn_fer": __version__, "python": sys.version.split()[0], "torch": torch.__version__,
            "numpy": np.__version__, "platform": platform.platform(), "cpu_threads": torch.get_num_threads(),
            "cuda": torch.version.cuda if torch.cuda.is_available() else None,
            "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
            "argv": sys.argv, "git_revision": git_revision(),
        })

    def write_metrics(self, history: list[dict]) -> None:
        """metrics.jsonl (one record per epoch) and metrics.csv (the same, as a table)."""
        self.write_text(METRICS_FILE, "".join(json.dumps(record) + "\n" for record in history))
        columns: list[str] = []
        for record in history:
            columns.extend(k for k in record if k not in columns)
        with atomic_path(self.path / METRICS_TABLE) as partial, open(partial, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(history)

    def save_checkpoint(self, name: str, model: PCNN, metadata: ModelMetadata | dict,
                        state: dict | None = None) -> Path:
        """Write checkpoint `name` (model + optional training state) so that a failure leaves the previous one."""
        with atomic_path(self.path / name) as partial:
            save_model(model, partial, metadata=metadata)
            if state is not None:
                torch.save(state, partial / STATE_FILE)
        return self.path / name

    def checkpoint_path(self, name: str) -> Path | None:
        """The model directory of checkpoint `name`, or None; recovers one left between the two renames.

        A last/ holding its training state alone takes its weights from selected/ (see drop_model).
        """
        for candidate in self._candidates(name):
            if (candidate / WEIGHTS_FILE).is_file():
                return candidate
        if name == LAST and self._state_file(LAST) is not None:
            return self.checkpoint_path(SELECTED)
        return None

    def drop_model(self, name: str) -> None:
        """Remove the weights of checkpoint `name`, keeping its training state: selected/ holds the same ones."""
        directory = self.path / name
        for file in (WEIGHTS_FILE, CONFIG_FILE):  # weights first: without them the directory is no model
            (directory / file).unlink(missing_ok=True)

    def load_state(self, name: str = LAST) -> tuple[PCNN, dict]:
        """The model and training state of checkpoint `name` (tensors and plain data only)."""
        state_file, model_dir = self._state_file(name), self.checkpoint_path(name)
        if state_file is None or model_dir is None:
            raise FileNotFoundError(f"{self.path} holds no resumable checkpoint ({name}/{STATE_FILE}); "
                                    f"was it written by `pcnn-fer train`?")
        try:
            state = torch.load(state_file, map_location="cpu", weights_only=True)
        except Exception as error:  # a damaged pickle can fail in any way (EOFError, UnpicklingError, ...)
            first = str(error).split(". ")[0]  # torch's reader appends a paragraph of advice
            raise ValueError(f"{state_file} is not a readable training state ({type(error).__name__}: "
                             f"{first}); start the run again, or resume from a copy of the run directory") from error
        return load_model(model_dir), state

    def _candidates(self, name: str) -> tuple[Path, Path]:
        return self.path / name, previous_path(self.path / name)

    def _state_file(self, name: str) -> Path | None:
        return next((c / STATE_FILE for c in self._candidates(name) if (c / STATE_FILE).is_file()), None)


def rng_state() -> dict:
    """Python, NumPy and torch (CPU and CUDA) generator states, as tensors and plain containers."""
    numpy_state = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": {"name": numpy_state[0], "keys": torch.from_numpy(numpy_state[1].copy()),
                  "pos": int(numpy_state[2]), "has_gauss": int(numpy_state[3]),
                  "cached_gaussian": float(numpy_state[4])},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict) -> None:
    """Restore the generator states rng_state() recorded, so a resumed run draws what it would have drawn."""
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    numpy_state = state["numpy"]
    np.random.set_state((numpy_state["name"], numpy_state["keys"].numpy(), numpy_state["pos"],
                         numpy_state["has_gauss"], numpy_state["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@functools.lru_cache(maxsize=1)
def git_revision() -> str | None:
    """The source tree's commit (with "-dirty" when modified), or None outside a git checkout.

    Asked once per process: every checkpoint records it, and spawning git at each save costs time.
    """
    source = Path(__file__).resolve().parent
    try:
        revision = subprocess.run(["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=source,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{revision}-dirty" if dirty else revision
