"""Atomic writes: the target holds the old version or the new one, never a torn one."""

from __future__ import annotations

import os

import pytest

from pcnn_fer.atomic import TargetBusyError, atomic_path, finish, partial_path, previous_path, write_text


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


def test_the_partial_name_keeps_the_suffix_that_writers_choose_a_format_by(tmp_path):
    assert partial_path(tmp_path / "clip.mp4") == tmp_path / "clip.partial.mp4"
    assert partial_path(tmp_path / "checkpoint") == tmp_path / "checkpoint.partial"


def test_an_exclusive_target_refuses_a_second_writer_and_keeps_the_first_ones_output(tmp_path):
    target = tmp_path / "records.jsonl"
    with atomic_path(target, exclusive=True) as first:
        first.write_text("first\n")
        with pytest.raises(TargetBusyError, match="another process is writing it"), \
                atomic_path(target, exclusive=True) as second:
            second.write_text("second\n")
        assert first.read_text() == "first\n"
    assert target.read_text() == "first\n" and not partial_path(target).exists()
    with atomic_path(target, exclusive=True) as again:  # free once the first writer is done
        again.write_text("again\n")
    assert target.read_text() == "again\n"


def test_a_partial_left_by_a_killed_writer_holds_no_lock(tmp_path):
    target = tmp_path / "records.jsonl"
    partial_path(target).write_text("torn line from a killed run")
    with atomic_path(target, exclusive=True) as partial:
        assert partial.read_text() == ""  # claimed and emptied
        partial.write_text("whole\n")
    assert target.read_text() == "whole\n"


@pytest.mark.parametrize("exclusive", [False, True])
def test_an_interrupted_block_keeps_its_partial_only_when_asked(tmp_path, exclusive):
    target = tmp_path / "records.jsonl"
    for keep in (True, False):
        with pytest.raises(KeyboardInterrupt), atomic_path(target, exclusive=exclusive,
                                                           keep_interrupted=keep) as partial:
            partial.write_text("done so far\n")
            raise KeyboardInterrupt
        assert partial.exists() == keep and not target.exists()
    with pytest.raises(OSError), atomic_path(target, keep_interrupted=True) as partial:
        partial.write_text("torn")
        raise OSError("disk full")
    assert not partial.exists()  # an error is no interruption: nothing worth keeping


def test_finish_puts_a_file_written_outside_a_block_in_place(tmp_path):
    target = write_text(tmp_path / "clip.mp4", "old")
    partial_path(target).write_text("new")
    assert finish(partial_path(target), target).read_text() == "new" and not partial_path(target).exists()
