"""Atomic writes: the target holds the old version or the new one, never a torn one."""

from __future__ import annotations

import os

import pytest

from pcnn_fer.atomic import atomic_path, partial_path, previous_path, write_text


def test_a_file_appears_only_when_complete_and_with_the_usual_permissions(tmp_path):
    target = tmp_path / "sub" / "file.txt"
    with atomic_path(target) as partial:
        partial.write_text("new")
        os.chmod(partial, 0o600)
        assert not target.exists()
    assert target.read_text() == "new" and not partial_path(target).exists()
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert write_text(target, "newer").read_text() == "newer"


def test_a_failure_leaves_the_previous_file_and_no_partial(tmp_path):
    target = write_text(tmp_path / "file.txt", "old")
    with pytest.raises(OSError, match="disk full"), atomic_path(target) as partial:
        partial.write_text("torn")
        raise OSError("disk full")
    assert target.read_text() == "old" and not partial_path(target).exists()


def test_a_folder_is_swapped_whole_and_a_stale_partial_is_cleared(tmp_path):
    target = tmp_path / "checkpoint"
    target.mkdir()
    (target / "old.bin").write_text("old")
    partial_path(target).mkdir()
    (partial_path(target) / "stale").write_text("left by a crash")
    with atomic_path(target) as partial:
        assert not partial.exists()  # a fresh start, not the crashed one's leftovers
        partial.mkdir()
        (partial / "new.bin").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.bin"]
    assert not previous_path(target).exists() and not partial_path(target).exists()
