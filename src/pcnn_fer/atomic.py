"""Files and folders that are never half-written: written under a temporary name beside the target, then renamed.

A reader (or a run resumed after a crash, a full disk, a Ctrl-C) finds either the previous complete version or
the new one, never a torn one. The one mechanism every writer of models, checkpoints, caches, exports, records
and annotated media uses.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PARTIAL = ".partial"  # marks what is being written (or what an interrupted run left unfinished)
PREVIOUS = ".previous"  # suffix of a folder being swapped out, for the instant between two renames


class TargetBusyError(OSError):
    """Another process is writing the same target right now."""


def partial_path(target: Path) -> Path:
    """Where `target` is written before it is renamed into place: `name.partial.mp4` for `name.mp4`.

    The suffix stays last because some writers (FFmpeg, for one) choose the format by it.
    """
    return target.with_name(f"{target.stem}{PARTIAL}{target.suffix}")


def previous_path(target: Path) -> Path:
    """Where a folder `target` sits while its replacement is renamed in (a reader may recover it from there)."""
    return target.with_name(target.name + PREVIOUS)


@contextmanager
def atomic_path(target: str | Path, *, exclusive: bool = False, keep_interrupted: bool = False) -> Iterator[Path]:
    """A fresh path beside `target` to write a file or a folder into, renamed onto `target` when the block ends
    without error (an existing folder is swapped out through `previous_path`), removed when it raises.

    `exclusive` creates the partial file and locks it for the whole block, so that a second process writing the
    same target fails at once with TargetBusyError instead of mixing its output into the first one's.
    `keep_interrupted` keeps the partial under its name when the block is interrupted (KeyboardInterrupt), for
    output that is worth having even when incomplete, such as the records of the inputs done so far.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    lock = _claim(partial, target) if exclusive else None
    if lock is None:
        _remove(partial)
    try:
        yield partial
        finish(partial, target)
    except BaseException as error:
        if not (keep_interrupted and isinstance(error, KeyboardInterrupt)):
            _remove(partial)
        raise
    finally:
        if lock is not None:
            os.close(lock)


def finish(partial: Path, target: Path) -> Path:
    """Rename a completely written `partial` onto `target` (a folder is swapped whole); returns `target`.

    For writers whose file outlives one block, such as a video written frame by frame.
    """
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
    return target


def write_text(target: str | Path, text: str) -> Path:
    """Write a text file atomically; returns its path."""
    with atomic_path(target) as partial:
        partial.write_text(text)
    return Path(target)


def _claim(partial: Path, target: Path) -> int:
    """Create (or empty) `partial` under a lock that holds until the returned descriptor is closed."""
    import fcntl  # POSIX only, so imported here: the other writes work everywhere

    while True:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT, 0o666)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as cause:
            os.close(descriptor)
            raise TargetBusyError(f"{target}: another process is writing it (into {partial}); wait for it to "
                                  f"finish or choose another file") from cause
        try:
            claimed = os.path.samestat(os.fstat(descriptor), os.stat(partial))
        except FileNotFoundError:
            claimed = False
        if claimed:
            os.ftruncate(descriptor, 0)
            return descriptor
        # The writer that held the lock renamed or removed the file meanwhile: claim a fresh one.
        os.close(descriptor)


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
