"""A corpus run's output folder: one shard of records per finished task, written atomically, and the run's
settings, so that a run cut off at any point resumes with the same settings and skips what is written."""

from __future__ import annotations

import json
from pathlib import Path

from pcnn_fer.atomic import write_text
from pcnn_fer.inference.records import read_inputs, record_files
from pcnn_fer.inference.writers import FILE_FORMATS, SUFFIXES

SETTINGS_FILE = "run.json"
SHARD_PREFIX = "shard-"
STARTS_FOLDER = ".starts"  # a file per task (or input) being run: one byte per start that has not finished


class SettingsMismatchError(ValueError):
    """The folder holds a run made with other settings: its records and the new ones would not belong together."""


class ShardFolder:
    """The folder of one corpus run: `shard-<task>.<format>` files, `run.json`, and `.starts/` (the starts of
    tasks and inputs whose workers died on them).

    A shard exists whole or not at all (it is written under its partial name and renamed when its task is done),
    so the inputs it names are done, once each.
    """

    def __init__(self, folder: str | Path, fmt: str) -> None:
        if fmt not in FILE_FORMATS:
            raise ValueError(f"unknown record format {fmt!r}; expected one of {', '.join(FILE_FORMATS)}")
        self.folder = Path(folder)
        self.fmt = fmt

    def shard(self, task_id: str) -> Path:
        """Where the records of task `task_id` go."""
        return self.folder / f"{SHARD_PREFIX}{task_id}{SUFFIXES[self.fmt]}"

    def shards(self) -> list[Path]:
        """The finished shards, in name order."""
        if not self.folder.is_dir():
            return []
        return [path for path in record_files([self.folder]) if path.name.startswith(SHARD_PREFIX)]

    def unfinished_starts(self, key: str) -> int:
        """How many times the work named `key` was started and never finished (its worker died)."""
        path = self.folder / STARTS_FOLDER / key
        return path.stat().st_size if path.is_file() else 0

    def started(self, key: str) -> None:
        """Note one more start of the work named `key`."""
        path = self.folder / STARTS_FOLDER / key
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as starts:
            starts.write(b"x")

    def finished(self, key: str) -> None:
        """The work named `key` finished: its starts are forgotten."""
        (self.folder / STARTS_FOLDER / key).unlink(missing_ok=True)

    def done_inputs(self) -> set[str]:
        """The inputs that finished shards hold records of."""
        return set().union(*map(read_inputs, self.shards()))

    def claim(self, settings: dict) -> None:
        """Make the folder this run's: record `settings`, or check them against those of the run that wrote it.

        Refuses a folder that holds files of another kind, so that no unrelated folder is written into.
        """
        path = self.folder / SETTINGS_FILE
        settings = {"format": self.fmt, **settings}
        if path.is_file():
            kept = json.loads(path.read_text())
            changed = sorted(key for key in settings.keys() | kept.keys() if settings.get(key) != kept.get(key))
            if changed:
                raise SettingsMismatchError(
                    f"{self.folder} holds a run made with other settings ({', '.join(changed)}: "
                    + "; ".join(f"{key} was {kept.get(key)!r}, now {settings.get(key)!r}" for key in changed)
                    + "): give the same flags to resume it, or another --output folder")
            return
        if self.folder.is_dir() and any(self.folder.iterdir()):
            raise SettingsMismatchError(f"{self.folder} is not empty and holds no corpus run ({SETTINGS_FILE}): "
                                        f"choose an empty or new folder")
        write_text(path, json.dumps(settings, indent=2, sort_keys=True) + "\n")
