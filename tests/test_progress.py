"""The one progress policy: a bar when enabled on a terminal, a logged line a minute elsewhere; never changes the
items."""

from __future__ import annotations

import io
import logging
import time

import pytest

from pcnn_fer import progress as progress_module
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


def slow(count: int, pause: float):
    for item in range(count):
        time.sleep(pause)
        yield item


@pytest.mark.parametrize("enabled", [True, False])
def test_off_a_terminal_long_work_logs_a_plain_line_every_interval(monkeypatch, caplog, enabled):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    monkeypatch.setattr(progress_module, "LOG_EVERY_S", 0.2)
    with caplog.at_level(logging.INFO, logger="pcnn_fer"):
        bar = progress(slow(10, 0.05), 10, "epoch 1/3", enabled, unit="batch")
        for _ in bar:
            bar.set_postfix(loss="0.912")  # redraws every item: the log still gets a line per interval
    lines = [r.getMessage() for r in caplog.records]
    if not enabled:
        assert lines == []
        return
    assert 1 <= len(lines) <= 3  # 0.5 s of work, a line at most every 0.2 s and none before
    assert all(line.startswith("epoch 1/3: ") and "/10 batch (" in line and "loss=0.912" in line for line in lines)
    assert all("\r" not in line for line in lines)


def test_off_a_terminal_short_work_logs_nothing_and_an_open_count_has_no_percentage(monkeypatch, caplog):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    with caplog.at_level(logging.INFO, logger="pcnn_fer"):
        assert list(progress(range(5), 5, "counting")) == [0, 1, 2, 3, 4]
        assert caplog.records == []
        monkeypatch.setattr(progress_module, "LOG_EVERY_S", 0.1)
        bar = progress(None, None, "corpus", unit="input")
        for _ in range(4):
            time.sleep(0.05)
            bar.update(1)
        bar.close()
    lines = [r.getMessage() for r in caplog.records]
    assert lines and all(line.startswith("corpus: ") and "input" in line and "%" not in line for line in lines)
