"""The one progress policy: a tqdm bar on stderr when asked for and stderr is a terminal; otherwise (a log file, a
pipe, CI) a plain line logged every LOG_EVERY_S seconds of long work, so that a run in the background still says
where it stands without carriage-return noise.

The bar vanishes when done (leave=False), so summaries printed afterwards stand alone; work shorter than
LOG_EVERY_S logs nothing.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable

from tqdm import tqdm

LOG_EVERY_S = 60.0
_LOG_FORMAT = "{desc}: {n_fmt}/{total_fmt} {unit} ({percentage:.0f} %), {elapsed} elapsed, {remaining} left{postfix}"
_LOG_FORMAT_OPEN = "{desc}: {n_fmt} {unit}, {elapsed} elapsed, {rate_fmt}{postfix}"
log = logging.getLogger(__name__)


class _LogLines:
    """A file for tqdm that logs the status it draws as one line, at most every `every` seconds and not before
    (the carriage returns and blanks dropped): however often a caller asks tqdm to redraw, a log gets a line a
    minute."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.next_at = time.monotonic() + every

    def write(self, text: str) -> None:
        line = text.strip("\r\n ")
        if line and time.monotonic() >= self.next_at:
            log.info("%s", line)
            self.next_at = time.monotonic() + self.every

    def flush(self) -> None:
        """Nothing is buffered."""


def progress(iterable: Iterable | None, total: int | None = None, description: str = "", enabled: bool = True,
             unit: str = "it") -> tqdm:
    """A tqdm bar over `iterable` (or, with None, one advanced by hand with .update()): drawn on a terminal, logged
    as a line a minute elsewhere, silent unless `enabled`."""
    if enabled and not sys.stderr.isatty():
        bar = tqdm(iterable, total=total, desc=description or "progress", unit=unit, leave=False,
                   file=_LogLines(LOG_EVERY_S), bar_format=_LOG_FORMAT, mininterval=LOG_EVERY_S / 60)
        if bar.total is None:  # no length to measure against: the count and the rate
            bar.bar_format = _LOG_FORMAT_OPEN
        return bar
    return tqdm(iterable, total=total, desc=description, unit=unit, leave=False, dynamic_ncols=True,
                file=sys.stderr, disable=not enabled)
