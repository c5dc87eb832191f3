"""Dataset readers, one per file, each reading a benchmark exactly as its publisher ships it.

Every reader is `read(root, *, skip_bad=False, **options) -> SampleSet`; the official split of each sample
is in tags["split"] ("train", "val" or "test") where the dataset has one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

from pcnn_fer.data.datasets import affectnet, ckplus, fer2013, ferplus, folder, jaffe, rafdb
from pcnn_fer.data.sample import SampleSet

Reader = Callable[..., SampleSet]

DATASETS: dict[str, Reader] = {
    "rafdb": rafdb.read,
    "fer2013": fer2013.read,
    "ferplus": ferplus.read,
    "ckplus": ckplus.read,
    "jaffe": jaffe.read,
    "affectnet": affectnet.read,
    "folder": folder.read,
}


def reader_options(name: str) -> dict[str, object]:
    """The options a reader accepts, with their defaults (for help texts and validation)."""
    parameters = inspect.signature(_reader(name)).parameters
    return {p.name: p.default for p in parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "skip_bad"}


def load_dataset(name: str, root: str | Path, *, skip_bad: bool = False, **options) -> SampleSet:
    """Read dataset `name` from `root`; bad samples raise unless skip_bad, in which case they are listed in .skipped."""
    reader = _reader(name)
    unknown = sorted(set(options) - set(reader_options(name)))
    if unknown:
        raise ValueError(f"dataset {name!r} has no option(s) {', '.join(unknown)}; "
                         f"it accepts: {', '.join(reader_options(name)) or 'none'}")
    return reader(Path(root).expanduser(), skip_bad=skip_bad, **options)


def _reader(name: str) -> Reader:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]
