"""One policy for bad input in every reader: raise with file, line and reason, or skip it and say so."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


class DatasetError(ValueError):
    """A dataset file does not have the expected form; the message names the file, the line and what was expected."""


class BadInputPolicy:
    """Collects rejected samples when skip_bad is on; raises DatasetError on the first one otherwise."""

    def __init__(self, dataset: str, skip_bad: bool) -> None:
        self.dataset = dataset
        self.skip_bad = skip_bad
        self.skipped: list[str] = []

    def reject(self, where: str | Path, reason: str, line: int | None = None) -> None:
        """Record (or raise) that the sample at `where` (a file, optionally a 1-based line) is unusable and why."""
        location = f"{where}:{line}" if line is not None else str(where)
        message = f"{location}: {reason}"
        if not self.skip_bad:
            raise DatasetError(f"{message} (pass skip_bad / --skip-bad to leave such samples out)")
        self.skipped.append(message)

    def report(self) -> list[str]:
        """Log how many samples were skipped (never a silent drop) and return the messages."""
        if self.skipped:
            log.warning("%s: skipped %d bad sample(s); first: %s", self.dataset, len(self.skipped), self.skipped[0])
        return self.skipped
