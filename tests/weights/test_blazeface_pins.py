"""The BlazeFace files: one mediapipe wheel, named by its tags, whatever the machine that fetches it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcnn_fer.weights.pinned import MEDIAPIPE, pinned_file
from pcnn_fer.weights.sources import sha256_of

PINS = ("blazeface_short_range", "blazeface_full_range")


def test_the_wheel_is_asked_for_by_its_tags_not_the_running_interpreters() -> None:
    command = MEDIAPIPE._download_command("/tmp/somewhere")
    assert command[-1] == "mediapipe==0.10.21"
    assert "--only-binary=:all:" in command
    assert command[command.index("--python-version") + 1] == "3.11"
    assert command[command.index("--platform") + 1] == "manylinux_2_28_x86_64"
    assert all(pinned_file(name).archive is MEDIAPIPE for name in PINS)


@pytest.mark.network
def test_pins_resolve_from_the_package_index(tmp_path: Path) -> None:
    assert sha256_of(MEDIAPIPE.download(tmp_path)) == MEDIAPIPE.sha256
    for name in PINS:
        pin = pinned_file(name)
        assert sha256_of(pin.fetch(tmp_path)) == pin.sha256
