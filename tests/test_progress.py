"""The one progress-bar policy: shown only when enabled and stderr is a terminal; never changes the items."""

from __future__ import annotations

import io

import pytest

from pcnn_fer.progress import progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("terminal", "enabled", "shown"), [(True, True, True), (True, False, False),
                                                            (False, True, False)])
def test_a_bar_only_on_a_terminal_and_when_enabled(monkeypatch, terminal, enabled, shown):
    stderr = Terminal() if terminal else io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    assert list(progress(range(5), 5, "counting", enabled)) == [0, 1, 2, 3, 4]
    assert ("counting" in stderr.getvalue()) is shown


def test_a_bar_advanced_by_hand(monkeypatch):
    stderr = Terminal()
    monkeypatch.setattr("sys.stderr", stderr)
    bar = progress(None, 3, unit="input")
    bar.update(2)
    bar.refresh()  # tqdm redraws at most every 0.1 s on its own
    bar.close()
    assert "2/3" in stderr.getvalue() and "input" in stderr.getvalue()
