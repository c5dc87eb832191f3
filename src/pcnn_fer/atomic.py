"""Files and folders that are never half-written: written under a temporary name beside the target, then renamed.

A reader (or a run resumed after a crash, a full disk, a Ctrl-C) finds either the previous complete version or
the new one, never a torn one. The one mechanism every writer of models, checkpoints, caches and exports uses.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PARTIAL = ".partial"  # suffix of what is being written
PREVIOUS = ".previous"  # suffix of a folder being swapped out, for the instant between two renames


def partial_path(target: Path) -> Path:
    """Where `target` is written before it is renamed into place."""
    return target.with_name(target.name + PARTIAL)


def previous_path(target: Path) -> Path:
    """Where a folder `target` sits while its replacement is renamed in (a reader may recover it from there)."""
    return target.with_name(target.name + PREVIOUS)


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """A fresh path beside `target` to write a file or a folder into, renamed onto `target` when the block ends
    without error (an existing folder is swapped out through `previous_path`), removed when it raises."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    _remove(partial)
    try:
        yield partial
        if partial.is_file():
            _usual_permissions(partial)
        if partial.is_dir() and target.is_dir():
            previous = previous_path(target)
            _remove(previous)
            os.replace(target, previous)
            os.replace(partial, target)
            _remove(previous)
        else:
            os.replace(partial, target)
    finally:
        _remove(partial)


def write_text(target: str | Path, text: str) -> Path:
    """Write a text file atomically; returns its path."""
    with atomic_path(target) as partial:
        partial.write_text(text)
    return Path(target)


def _usual_permissions(path: Path) -> None:
    # Some writers (safetensors, tempfile) create owner-only files; give the permissions the umask allows.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
