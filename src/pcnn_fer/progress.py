"""The one progress-bar policy: a tqdm bar on stderr, shown only when asked for and stderr is a terminal.

Redirected output (logs, pipes, CI) stays free of carriage-return noise; the bar vanishes when done
(leave=False), so summaries printed afterwards stand alone.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from tqdm import tqdm


def progress(iterable: Iterable | None, total: int | None = None, description: str = "", enabled: bool = True,
             unit: str = "it") -> tqdm:
    """A tqdm bar over `iterable` (or, with None, one advanced by hand with .update()), silent unless `enabled`
    and stderr is a terminal."""
    return tqdm(iterable, total=total, desc=description, unit=unit, leave=False, dynamic_ncols=True,
                file=sys.stderr, disable=not (enabled and sys.stderr.isatty()))
