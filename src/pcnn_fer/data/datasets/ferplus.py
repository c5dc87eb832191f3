"""FERPlus: ten crowd votes per FER2013 image over neutral, happiness, surprise, sadness, anger, disgust, fear,
contempt, unknown, not-a-face.

Two layouts are read:
- `fer2013new.csv` (Usage, Image name, 10 vote columns) joined to `fer2013.csv` **by row position**: the
  `ferNNNNNNN.png` names count named rows only, and rows with an empty name (173 of them) are images FERPlus
  left out, so the name cannot be turned into a row number;
- the image folders `FER2013Train/`, `FER2013Valid/`, `FER2013Test/`, each with a header-less `label.csv`
  of `name, face box, 10 votes`. When `fer2013new.csv` sits beside the folders its votes are used (Microsoft
  updated them in 2017; the committed `label.csv` files are the 2016 votes and differ on 1,601 images), joined
  through its image-name column; `votes="label_csv"` takes the folders' own files instead.

Label modes follow Microsoft's FERPlus reference rules (see `votes_to_distribution`).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from pcnn_fer.data.bad_input import BadInputPolicy, DatasetError
from pcnn_fer.data.datasets import fer2013
from pcnn_fer.data.labels import FERPLUS_CLASSES
from pcnn_fer.data.sample import Sample, SampleSet

VOTES_CSV = "fer2013new.csv"
VOTE_COLUMNS = (*FERPLUS_CLASSES, "unknown", "NF")
CSV_COLUMNS = ("Usage", "Image name", *VOTE_COLUMNS)
FOLDERS = {"FER2013Train": "train", "FER2013Valid": "val", "FER2013Test": "test"}
MODES = ("majority", "probability", "crossentropy", "multi_target", "argmax")
VOTE_SOURCES = ("auto", "fer2013new", "label_csv")
EMOTIONS = len(FERPLUS_CLASSES)


def votes_to_distribution(votes: np.ndarray, mode: str) -> np.ndarray | None:
    """The 8-emotion label of one image from its 10 vote counts, or None when the image is left out.

    Single votes are discarded as outliers first; `total` is then the remaining votes over all 10 columns.
    - majority: keep only if the top column holds more than half of `total`;
    - probability / crossentropy: take the largest columns (ties together) until they hold 75 % of `total`,
      at most 3 of them, stopping at unknown / not-a-face; drop unless the taken columns hold over half;
    - multi_target: every column with at least 30 % of `total`; drop unless they hold over half;
    - argmax: the column with the most votes (all votes counted, the first on a tie), however few: the looser
      "argmax of the votes" protocol that scores every image whose top vote is an emotion.
    An image whose chosen top column is unknown or not-a-face is dropped. The result sums to 1.
    """
    if mode == "argmax":
        top = int(np.argmax(votes))
        return np.eye(EMOTIONS)[top] if votes[top] > 0 and top < EMOTIONS else None
    raw = np.where(votes > 1, votes, 0).astype(np.float64)
    total = raw.sum()
    chosen = np.zeros_like(raw)
    if mode == "majority":
        top = int(np.argmax(raw))
        if total == 0 or raw[top] <= 0.5 * total:
            return None
        chosen[top] = raw[top]
    elif mode in ("probability", "crossentropy"):
        if not _take_largest(raw, total, chosen):
            return None
    elif mode == "multi_target":
        chosen = np.where(raw >= 0.3 * total, raw, 0.0)
        if chosen.sum() <= 0.5 * total:
            return None
    else:
        raise ValueError(f"FERPlus label mode {mode!r}; expected one of {', '.join(MODES)}")
    if total == 0 or int(np.argmax(chosen)) >= EMOTIONS:
        return None
    emotions = chosen[:EMOTIONS]
    return emotions / emotions.sum()


def _take_largest(raw: np.ndarray, total: float, chosen: np.ndarray) -> bool:
    """Fill `chosen` with the largest vote columns (the probability rule); False if the image is left out."""
    remaining = raw.copy()
    taken_votes, taken, valid = 0.0, 0, True
    while taken_votes < 0.75 * total and taken < 3 and valid:
        top_value = remaining.max()
        for column in range(len(remaining)):
            if remaining[column] != top_value:
                continue
            chosen[column] = top_value
            remaining[column] = 0.0
            taken_votes += top_value
            taken += 1
            if column >= EMOTIONS:  # unknown / not-a-face among the largest: stop here
                valid = False
                if chosen.sum() > top_value:  # real emotions were taken before it: keep those alone
                    chosen[column] = 0.0
                    taken -= 1
                break
    return chosen.sum() > 0.5 * total and taken <= 3


def read(root: Path, *, skip_bad: bool = False, mode: str = "majority", contempt: bool = True,
         fer2013_csv: str | None = None, votes: str = "auto") -> SampleSet:
    """FERPlus with its official split; `mode` picks the label rule, contempt=False gives the 7-class setting.

    Majority and argmax modes yield class indices; the other modes yield distributions. In the 7-class setting an image
    whose label is contempt is left out and distributions are renormalised over the other seven. With the image
    folders, `votes` says whose votes label them: "fer2013new" (the default when that file sits beside the
    folders) or "label_csv" (the folders' own, older files).
    """
    if mode not in MODES:
        raise ValueError(f"FERPlus label mode {mode!r}; expected one of {', '.join(MODES)}")
    if votes not in VOTE_SOURCES:
        raise ValueError(f"FERPlus votes {votes!r}; expected one of {', '.join(VOTE_SOURCES)}")
    policy = BadInputPolicy("ferplus", skip_bad)
    folders = _find_folders(root)
    if folders:
        votes_csv = next(iter(folders.values())).parent / VOTES_CSV
        if votes == "fer2013new" and not votes_csv.is_file():
            raise FileNotFoundError(f"{votes_csv}: votes=fer2013new needs {VOTES_CSV} beside the image folders")
        by_name = (_votes_by_name(votes_csv, policy) if votes != "label_csv" and votes_csv.is_file() else None)
        rows = _folder_rows(folders, policy, by_name)
    else:
        rows = _csv_rows(root, Path(fer2013_csv).expanduser() if fer2013_csv else None, policy)
    classes = FERPLUS_CLASSES if contempt else FERPLUS_CLASSES[:-1]
    samples = []
    for key, source, split, votes in rows:
        distribution = votes_to_distribution(votes, mode)
        if distribution is not None and not contempt:
            seven = distribution[:-1]
            distribution = seven / seven.sum() if seven.sum() > 0 else None
        if distribution is None:
            continue
        label = (int(np.argmax(distribution)) if mode in ("majority", "argmax")
                 else tuple(float(p) for p in distribution))
        samples.append(Sample(source, label, key, None, {"split": split}))
    return SampleSet("ferplus", classes, samples, policy.report())


def _find_folders(root: Path) -> dict[str, Path]:
    for base in (root, root / "data"):
        found = {name: base / name for name in FOLDERS if (base / name / "label.csv").is_file()}
        if found:
            return found
    return {}


def _parse_votes(fields: list[str], where: Path, line: int, policy: BadInputPolicy) -> np.ndarray | None:
    if len(fields) != len(VOTE_COLUMNS) or not all(f.strip().isdigit() for f in fields):
        policy.reject(where, f"expected {len(VOTE_COLUMNS)} non-negative vote counts "
                             f"({', '.join(VOTE_COLUMNS)}), got {fields}", line)
        return None
    return np.array([int(f) for f in fields], dtype=np.int64)


def _vote_records(votes_path: Path, policy: BadInputPolicy):
    """(row position, line, usage, name, votes) for every named, well-formed row of fer2013new.csv; also the count
    of data rows, returned first."""
    with open(votes_path, newline="", encoding="utf-8-sig") as handle:
        records = list(csv.reader(handle))
    header = [c.strip() for c in records[0]] if records else []
    if header != list(CSV_COLUMNS):
        raise DatasetError(f"{votes_path}:1: columns {header}; expected {list(CSV_COLUMNS)}")
    data = [r for r in records[1:] if r]
    yield len(data)
    for position, record in enumerate(data):
        line = position + 2
        if len(record) != len(CSV_COLUMNS):
            policy.reject(votes_path, f"expected {len(CSV_COLUMNS)} fields, got {len(record)}", line)
            continue
        usage, name = record[0].strip(), record[1].strip()
        if not name:
            continue  # FERPlus left this FER2013 image out: not a sample, not an error
        votes = _parse_votes(record[2:], votes_path, line, policy)
        if votes is None:
            continue
        if usage not in fer2013.USAGE_SPLITS:
            policy.reject(votes_path, f"Usage {usage!r} is not one of {', '.join(fer2013.USAGE_SPLITS)}", line)
            continue
        yield position, line, usage, name, votes


def _votes_by_name(votes_path: Path, policy: BadInputPolicy) -> dict[str, tuple[str, np.ndarray]]:
    """Image name -> (Usage, votes) from fer2013new.csv. Four names occur twice; the earlier row is kept: for the
    one pair whose votes differ (fer0033120), the image on disk is a face, Microsoft's own label.csv carries the
    earlier row's votes, and the later row is ten not-a-face votes."""
    records = _vote_records(votes_path, policy)
    next(records)
    by_name: dict[str, tuple[str, np.ndarray]] = {}
    for _, _, usage, name, votes in records:
        by_name.setdefault(name, (usage, votes))
    return by_name


def _csv_rows(root: Path, fer2013_csv: Path | None, policy: BadInputPolicy):
    """(key, pixels, split, votes) for every named row of fer2013new.csv, pixels from the same row of fer2013.csv."""
    votes_path = fer2013.find_csv(root, VOTES_CSV)
    pixels_path = fer2013_csv or _find_fer2013(votes_path.parent)
    pixel_rows = fer2013.parse_csv(pixels_path, policy)
    row_of_position = {int(p): i for i, p in enumerate(pixel_rows.positions)}
    records = _vote_records(votes_path, policy)
    total = next(records)
    if total != pixel_rows.total_rows:
        raise DatasetError(f"{votes_path}: {total} rows but {pixels_path} has {pixel_rows.total_rows}; "
                           f"FERPlus is joined "
                           f"to fer2013.csv by row position, so both must be the complete original files")
    for position, line, usage, name, votes in records:
        row = row_of_position.get(position)
        if row is None:
            policy.reject(votes_path, f"{name}: its fer2013.csv row ({position + 2}) was unusable", line)
            continue
        if pixel_rows.usage[row] != usage:
            raise DatasetError(f"{votes_path}:{line}: Usage {usage} but {pixels_path}:{position + 2} says "
                               f"{pixel_rows.usage[row]}; the two files are not row-aligned")
        yield Path(name).stem, pixel_rows.pixels[row], fer2013.USAGE_SPLITS[usage], votes


def _find_fer2013(folder: Path) -> Path:
    for candidate in (folder / fer2013.CSV_NAME, folder.parent / fer2013.CSV_NAME,
                      folder.parent / "fer2013" / fer2013.CSV_NAME):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{folder / fer2013.CSV_NAME}: fer2013.csv not found next to {VOTES_CSV} (FERPlus "
                            f"takes its pixels from it); pass fer2013_csv=PATH")


def _folder_rows(folders: dict[str, Path], policy: BadInputPolicy,
                 by_name: dict[str, tuple[str, np.ndarray]] | None = None):
    """(key, image path, split, votes) for the images FER2013Train|Valid|Test/label.csv list; votes from `by_name`
    (fer2013new.csv) when given, else from label.csv."""
    for folder_name, folder in folders.items():
        label_file = folder / "label.csv"
        with open(label_file, newline="", encoding="utf-8-sig") as handle:
            for line, record in enumerate(csv.reader(handle), start=1):
                if not record:
                    continue
                # name, face box, 10 votes; an unquoted box "(0, 0, 48, 48)" spreads over four fields.
                if len(record) < 2 + len(VOTE_COLUMNS):
                    policy.reject(label_file, f"expected name, face box and {len(VOTE_COLUMNS)} votes, "
                                              f"got {len(record)} fields", line)
                    continue
                name, split = record[0].strip(), FOLDERS[folder_name]
                if by_name is None:
                    votes = _parse_votes(record[-len(VOTE_COLUMNS):], label_file, line, policy)
                elif name not in by_name:
                    policy.reject(label_file, f"{name} has no row in {VOTES_CSV}", line)
                    continue
                else:
                    usage, votes = by_name[name]
                    if fer2013.USAGE_SPLITS[usage] != split:
                        policy.reject(label_file, f"{name} is in {folder_name} but {VOTES_CSV} says {usage}", line)
                        continue
                if votes is None:
                    continue
                path = folder / name
                if not path.is_file():
                    policy.reject(path, f"image listed at {label_file.name}:{line} is missing")
                    continue
                yield path.stem, path, split, votes
