"""The common sample record that every dataset reader yields."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Sample:
    """One labelled face.

    source: an image path, or uint8 pixels (H, W) / (H, W, 3) for datasets shipped as arrays (FER2013).
    label: a class index into the owning SampleSet's class_names, or a probability distribution over them.
    key: a stable identifier within its dataset (file name, row number) used by subsets, caches, reports.
    tags: free-form facts such as {"split": "test", "occlusion": "glasses", "pose": "30"}.
    """

    source: Path | np.ndarray
    label: int | tuple[float, ...]
    key: str
    subject: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def hard_label(self) -> int:
        """The class index; for a distribution, its most probable class."""
        if isinstance(self.label, int):
            return self.label
        return int(np.argmax(self.label))


@dataclass
class SampleSet:
    """Samples of one dataset with the ordered class names their labels index into."""

    name: str
    class_names: tuple[str, ...]
    samples: list[Sample]
    # Bad inputs left out because the reader was asked to skip them, one message each (file, line, reason).
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def where(self, **tags: str) -> SampleSet:
        """The samples whose tags equal every given value, e.g. where(split="test")."""
        kept = [s for s in self.samples if all(s.tags.get(k) == v for k, v in tags.items())]
        return SampleSet(self.name, self.class_names, kept)

    def subset(self, samples: Sequence[Sample]) -> SampleSet:
        """A set with the same name and classes holding `samples`."""
        return SampleSet(self.name, self.class_names, list(samples))

    def class_counts(self) -> dict[str, int]:
        """Samples per class (by hard label), every class listed."""
        counts = np.bincount([s.hard_label for s in self.samples], minlength=len(self.class_names))
        return dict(zip(self.class_names, counts.tolist()))
