"""What training recorded about one fold (result.json): how its model was kept, what it was tested on, how it did.

The test part is recorded by count and by fingerprint, so that `pcnn-fer eval`, rebuilding the folds from the
recipe, can tell whether a rebuilt test part holds exactly the samples training tested.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from pcnn_fer.data.sample import SampleSet


def samples_fingerprint(samples: SampleSet) -> str:
    """The sha256 (hex) of the sorted sample keys: equal for the same samples, whatever their order."""
    return hashlib.sha256("\n".join(sorted(sample.key for sample in samples)).encode()).hexdigest()


@dataclass(frozen=True)
class FoldResult:
    """One fold's record: selection, sample counts, test metrics per head, calibration and figure paths."""

    fold: str | None  # None for a single split
    selected_epoch: int | None
    selection: str
    train_samples: int
    val_samples: int
    test: dict[str, dict] | None = None  # metrics per scored head, None without a test split
    test_samples: int = 0
    test_fingerprint: str | None = None  # samples_fingerprint() of the test part; None in records older than it
    calibration: dict | None = None  # the temperature fitted on val, as the model's metadata keeps it
    confusion_images: dict[str, str] = field(default_factory=dict)
    reliability_images: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The record as result.json holds it."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, document: dict, origin: str = "result") -> FoldResult:
        """A record read back; fields added since a record was written take their defaults."""
        if not isinstance(document, dict):
            raise ValueError(f"{origin}: expected a JSON object of fold results, got {type(document).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        required = [name for name, f in fields.items()
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        missing = [name for name in required if name not in document]
        if missing:
            raise ValueError(f"{origin}: missing field(s) {', '.join(missing)}; expected a fold result written by "
                             f"pcnn-fer train")
        return cls(**{name: value for name, value in document.items() if name in fields})

    @classmethod
    def read(cls, path: str | Path) -> FoldResult:
        """The record in the file at `path` (a fold's result.json)."""
        path = Path(path)
        try:
            document = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from error
        return cls.from_dict(document, str(path))
