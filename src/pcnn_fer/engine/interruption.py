"""Stopping a run cleanly: Ctrl-C or SIGTERM becomes a request honoured between optimiser steps."""

from __future__ import annotations

import logging
import signal

log = logging.getLogger(__name__)


class TrainingInterrupted(Exception):
    """Ctrl-C (or SIGTERM) arrived; a resumable checkpoint was saved first."""


class StopRequest:
    """Turns Ctrl-C / SIGTERM into a flag checked between optimiser steps; a second Ctrl-C aborts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopRequest:
        try:
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self._previous.clear()
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("stopping after this step; a resumable checkpoint will be saved (Ctrl-C again to abort)")

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
