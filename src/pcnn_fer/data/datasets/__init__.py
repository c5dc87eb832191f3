"""Dataset readers, one per file, each reading a benchmark exactly as its publisher ships it.

Every reader is `read(root, *, skip_bad=False, **options) -> SampleSet`; the official split of each sample
is in tags["split"] ("train", "val" or "test") where the dataset has one.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pcnn_fer.data.sample import SampleSet

Reader = Callable[..., "SampleSet"]

# dataset name -> its reader's module here; a module is imported when its dataset is first read, so that the
# names (which recipes and the command line offer) cost no numpy or image-library import
READER_MODULES: dict[str, str] = {
    "rafdb": "rafdb",
    "fer2013": "fer2013",
    "ferplus": "ferplus",
    "ckplus": "ckplus",
    "ckplus48": "ckplus48",
    "jaffe": "jaffe",
    "affectnet": "affectnet",
    "folder": "folder",
}
DATASET_NAMES = tuple(READER_MODULES)


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


def parse_reader_options(dataset: str, pairs: list[str]) -> dict[str, object]:
    """Reader options given as KEY=VALUE text (`--option`), typed after the reader's defaults (bool, int, text)."""
    defaults = reader_options(dataset)
    options: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in defaults:
            raise ValueError(f"--option {pair!r}: expected KEY=VALUE with KEY one of "
                             f"{', '.join(defaults) or '(none for this dataset)'}")
        default = defaults[key]
        if isinstance(default, bool):
            if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                raise ValueError(f"--option {key}: expected true or false, got {value!r}")
            options[key] = value.lower() in ("true", "yes", "1")
        elif isinstance(default, int):
            options[key] = int(value)
        else:
            options[key] = value
    return options


def _reader(name: str) -> Reader:
    if name not in READER_MODULES:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASET_NAMES)}")
    return importlib.import_module(f"{__name__}.{READER_MODULES[name]}").read
