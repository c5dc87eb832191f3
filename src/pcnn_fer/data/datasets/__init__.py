"""Dataset readers, one per file, each reading a benchmark exactly as its publisher ships it.

Every reader is `read(root, *, skip_bad=False, **options) -> SampleSet`; the official split of each sample
is in tags["split"] ("train", "val" or "test") where the dataset has one.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pydantic
import yaml

from pcnn_fer.validation import Checked

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
    return {key: field.default for key, field in options_model(name).model_fields.items()}


@functools.cache
def options_model(name: str) -> type[Checked]:
    """The reader's keyword options as a checked record (pcnn_fer.validation): their types from its signature."""
    reader = _reader(name)
    hints = typing.get_type_hints(reader)
    fields = {p.name: (hints[p.name], p.default) for p in inspect.signature(reader).parameters.values()
              if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "skip_bad"}
    return pydantic.create_model(f"{name} options", __base__=Checked, **fields)


def load_dataset(name: str, root: str | Path, *, skip_bad: bool = False, **options) -> SampleSet:
    """Read dataset `name` from `root`; bad samples raise unless skip_bad, in which case they are listed in .skipped."""
    reader = _reader(name)
    unknown = sorted(set(options) - set(reader_options(name)))
    if unknown:
        raise ValueError(f"dataset {name!r} has no option(s) {', '.join(unknown)}; "
                         f"it accepts: {', '.join(reader_options(name)) or 'none'}")
    options_model(name)(**options)  # a wrong type is one line naming the option
    return reader(Path(root).expanduser(), skip_bad=skip_bad, **options)


def parse_reader_options(dataset: str, pairs: list[str]) -> dict[str, object]:
    """Reader options given as KEY=VALUE text (`--option`): a text option keeps its text, any other value is read
    as YAML (as `pcnn-fer train --set` reads it: true/false, numbers), then checked against the reader's types."""
    model = options_model(dataset)
    options: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in model.model_fields:
            raise ValueError(f"--option {pair!r}: expected KEY=VALUE with KEY one of "
                             f"{', '.join(model.model_fields) or '(none for this dataset)'}")
        takes_text = str in (model.model_fields[key].annotation, *typing.get_args(model.model_fields[key].annotation))
        options[key] = value if takes_text else _yaml_value(value)
    model(**options)
    return options


def _yaml_value(text: str) -> object:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _reader(name: str) -> Reader:
    if name not in READER_MODULES:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASET_NAMES)}")
    return importlib.import_module(f"{__name__}.{READER_MODULES[name]}").read
