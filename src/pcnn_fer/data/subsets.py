"""Challenge subsets (Wang et al., TIP 2020): published lists naming test images under occlusion or large pose.

Each list becomes a `ChallengeSubset` that filters a loaded test set by sample key and checks that the label
the list gives agrees with the dataset's own. List formats, as published:

- Occlusion-RAF-DB: `test_0003_aligned <label 0-6> <occlusion type>` (labels 0-based, RAF-DB order; the
  published list names test_2464 twice: it is counted once and the repeat is reported);
- Pose-RAF-DB >30 / >45: `val_raf_db_list*.txt` lines `c/test_xxxx_aligned.jpg` (c = label 0-6) with a
  `val_raf_db_label*.txt` whose first line is a header `<count> <classes>` (e.g. `1247 7`), then one label a line;
- Occlusion-FERPlus: `<label>_ferNNNNNNN.png 8 <occlusion type>` (label 0-7 in FERPlus order; the constant
  middle column is not used);
- Pose-FERPlus >30 / >45: `<label>/ferNNNNNNN.jpg`;
- AffectNet occlusion / pose: `val/<label>/<image stem>/` (the CSV release's file names, labels 0-7).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from pcnn_fer.data.bad_input import BadInputPolicy, DatasetError
from pcnn_fer.data.sample import Sample, SampleSet

log = logging.getLogger(__name__)


@dataclass
class ChallengeSubset:
    """A named list of test images: key -> (label in the dataset's native order, tag value)."""

    name: str
    dataset: str
    tag: str
    entries: dict[str, tuple[int, str]]
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.entries)

    def apply(self, test_set: SampleSet, *, skip_bad: bool = False) -> SampleSet:
        """The samples of `test_set` this list names, tagged with tag=value.

        A listed image missing from `test_set`, or whose label differs from the list's, raises; with skip_bad it
        is left out and reported in the result's .skipped.
        """
        if test_set.name != self.dataset:
            raise ValueError(f"{self.name} filters {self.dataset}, not {test_set.name}")
        policy = BadInputPolicy(self.name, skip_bad)
        by_key = {_match_key(self.dataset, s.key): s for s in test_set}
        kept: list[Sample] = []
        for key, (label, value) in self.entries.items():
            sample = by_key.get(key)
            if sample is None:
                policy.reject(self.name, f"listed image {key} is not in the loaded {self.dataset} set")
                continue
            if sample.hard_label != label:
                policy.reject(self.name, f"{key}: the list says {test_set.class_names[label]} ({label}), "
                                         f"{self.dataset} says {test_set.class_names[sample.hard_label]} "
                                         f"({sample.hard_label}); are both 0-based in the native order?")
                continue
            kept.append(Sample(sample.source, sample.label, sample.key, sample.subject,
                               {**sample.tags, self.tag: value}))
        return SampleSet(test_set.name, test_set.class_names, kept, policy.report())


def _match_key(dataset: str, key: str) -> str:
    # AffectNet keys are CSV paths like "689/<stem>.jpg"; its lists name the stem alone.
    return Path(key).stem if dataset == "affectnet" else key


def _lines(path: Path) -> list[tuple[int, str]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: subset list not found")
    return [(n, line.strip()) for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1)
            if line.strip()]


def _label(text: str, classes: int, path: Path, line: int) -> int:
    if not text.isdigit() or int(text) >= classes:
        raise DatasetError(f"{path}:{line}: label {text!r} is not in 0-{classes - 1}")
    return int(text)


def _add(subset: ChallengeSubset, key: str, label: int, value: str, path: Path, line: int) -> None:
    """Add one entry; an exact repeat is counted once and noted, a conflicting one is an error."""
    if key in subset.entries:
        if subset.entries[key] != (label, value):
            raise DatasetError(f"{path}:{line}: {key} listed again with a different label or type "
                               f"({subset.entries[key]} vs {(label, value)})")
        note = f"{path.name}:{line}: {key} is listed twice; counted once"
        subset.notes.append(note)
        log.warning("%s: %s", subset.name, note)
        return
    subset.entries[key] = (label, value)


def occlusion_rafdb(path: str | Path) -> ChallengeSubset:
    """Occlusion-RAF-DB from `rafdb_occlusion_list.txt` (`test_0003_aligned <label 0-6> <type>`)."""
    path = Path(path)
    subset = ChallengeSubset("occlusion-rafdb", "rafdb", "occlusion", {})
    for line, text in _lines(path):
        fields = text.split()
        if len(fields) != 3 or not fields[0].startswith("test_"):
            raise DatasetError(f"{path}:{line}: expected 'test_NNNN_aligned <label 0-6> <type>', got {text!r}")
        key = fields[0].removesuffix(".jpg").removesuffix("_aligned")
        _add(subset, key, _label(fields[1], 7, path, line), fields[2], path, line)
    return subset


def pose_rafdb(list_path: str | Path, label_path: str | Path, angle: str) -> ChallengeSubset:
    """Pose-RAF-DB (>30 or >45 degrees) from `val_raf_db_list*.txt` and its `val_raf_db_label*.txt`."""
    list_path, label_path = Path(list_path), Path(label_path)
    names = _lines(list_path)
    labels = _lines(label_path)
    header = labels[0][1].split() if labels else []
    if len(header) != 2 or not all(h.isdigit() for h in header):
        raise DatasetError(f"{label_path}:1: expected a header '<count> <classes>' such as '1247 7', "
                           f"got {labels[0][1] if labels else 'an empty file'!r}")
    count, classes = int(header[0]), int(header[1])
    labels = labels[1:]
    if not count == len(labels) == len(names):
        raise DatasetError(f"{label_path}: header says {count} images, the file has {len(labels)} labels and "
                           f"{list_path} has {len(names)} names; they must agree")
    subset = ChallengeSubset(f"pose{angle}-rafdb", "rafdb", "pose", {})
    for (line, name), (label_line, label_text) in zip(names, labels):
        folder, _, file_name = name.rpartition("/")
        label = _label(label_text, classes, label_path, label_line)
        if folder and folder != str(label):
            raise DatasetError(f"{list_path}:{line}: {name} sits in folder {folder} but "
                               f"{label_path.name}:{label_line} gives label {label}")
        key = Path(file_name).stem.removesuffix("_aligned")
        _add(subset, key, label, angle, list_path, line)
    return subset


def occlusion_ferplus(path: str | Path) -> ChallengeSubset:
    """Occlusion-FERPlus (`<label>_ferNNNNNNN.png 8 <type>`)."""
    path = Path(path)
    subset = ChallengeSubset("occlusion-ferplus", "ferplus", "occlusion", {})
    for line, text in _lines(path):
        fields = text.split()
        label_text, _, name = fields[0].partition("_") if fields else ("", "", "")
        if len(fields) != 3 or not name.startswith("fer"):
            raise DatasetError(f"{path}:{line}: expected '<label>_ferNNNNNNN.png 8 <type>', got {text!r}")
        _add(subset, Path(name).stem, _label(label_text, 8, path, line), fields[2], path, line)
    return subset


def pose_ferplus(path: str | Path, angle: str) -> ChallengeSubset:
    """Pose-FERPlus (>30 or >45 degrees) from `pose_*_ferplus_list.txt` (`<label>/ferNNNNNNN.jpg`)."""
    path = Path(path)
    subset = ChallengeSubset(f"pose{angle}-ferplus", "ferplus", "pose", {})
    for line, text in _lines(path):
        label_text, _, name = text.partition("/")
        if not name.startswith("fer"):
            raise DatasetError(f"{path}:{line}: expected '<label>/ferNNNNNNN.jpg', got {text!r}")
        _add(subset, Path(name).stem, _label(label_text, 8, path, line), angle, path, line)
    return subset


def affectnet_list(path: str | Path, tag: str, value: str) -> ChallengeSubset:
    """AffectNet occlusion (tag="occlusion") or pose (tag="pose", value "30"/"45") lists: `val/<label>/<stem>/`."""
    path = Path(path)
    subset = ChallengeSubset(f"{tag}{'' if tag == 'occlusion' else value}-affectnet", "affectnet", tag, {})
    for line, text in _lines(path):
        parts = [p for p in text.split("/") if p]
        if len(parts) != 3:
            raise DatasetError(f"{path}:{line}: expected 'val/<label>/<image stem>/', got {text!r}")
        _add(subset, Path(parts[2]).stem, _label(parts[1], 8, path, line), value, path, line)
    return subset
