"""FER2013 in either of its two published layouts; 35,887 faces of 48 x 48 grey pixels.

- `fer2013.csv` with columns emotion, pixels, Usage: labels 0-6 = anger, disgust, fear, happiness, sadness,
  surprise, neutral. Pixel strings (2,304 numbers each) are parsed in bulk with numpy rather than number by
  number, so the whole file reads in under two seconds (benchmarks/bench_data.py measures it). Keys are row
  numbers such as `row00003`.
- Kaggle's image folders `train/<class>/Training_*.jpg` and `test/<class>/PublicTest_*.jpg|PrivateTest_*.jpg`
  with class folders angry, disgust, fear, happy, sad, surprise, neutral. The class is the folder name; the
  Usage is the file-name prefix, since test/ mixes two splits. The numbers in these names are not unique
  (`Training_52789098.jpg` is in both neutral/ and surprise/, different faces), so keys carry the class folder:
  `neutral/Training_52789098`. Directories are only listed, never decoded, so reading stays fast.

Either way Usage Training / PublicTest / PrivateTest becomes the split train / val / test. When a root holds
both, the CSV is read.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pcnn_fer.data.bad_input import BadInputPolicy, DatasetError
from pcnn_fer.data.images import IMAGE_SUFFIXES
from pcnn_fer.data.labels import FER2013_CLASSES, canonical_name
from pcnn_fer.data.sample import Sample, SampleSet

CSV_NAME = "fer2013.csv"
COLUMNS = ("emotion", "pixels", "Usage")
SIDE = 48
PIXELS_PER_ROW = SIDE * SIDE
USAGE_SPLITS = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
# Kaggle image folders: the Usages each top folder may hold.
FOLDER_USAGES = {"train": ("Training",), "test": ("PublicTest", "PrivateTest")}
_CHUNK_ROWS = 64  # small enough for the working arrays to stay in cache


@dataclass
class Fer2013Rows:
    """The usable rows of fer2013.csv: pixels (N, 48, 48), labels (N,), usage per row, and each row's position.

    positions are 0-based data-row numbers (header excluded), which FERPlus joins on; total_rows counts the
    data rows of the file, usable or not.
    """

    path: Path
    pixels: np.ndarray
    labels: np.ndarray
    usage: list[str]
    positions: np.ndarray
    total_rows: int


def find_csv(root: Path, name: str = CSV_NAME) -> Path:
    """`root` itself if it is the CSV file, else the file of that name inside `root` (or `root/fer2013/`)."""
    if root.is_file():
        return root
    for candidate in (root / name, root / "fer2013" / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{root / name}: {name} not found")


def parse_csv(path: Path, policy: BadInputPolicy) -> Fer2013Rows:
    """Read and check every row of fer2013.csv; rejected rows go through `policy`.

    Rows are located with bytes.find (memchr speed) and pixel fields handed on as views, so the 290 MB of pixel
    text is never split or copied row by row.
    """
    data = path.read_bytes()
    if b"\r" in data:
        data = data.replace(b"\r", b"")
    view = memoryview(data)
    header_end = data.find(b"\n") if b"\n" in data else len(data)
    header = [c.strip() for c in data[:header_end].decode("utf-8-sig", errors="replace").split(",")]
    if sorted(header) != sorted(COLUMNS):
        raise DatasetError(f"{path}:1: columns {header}; expected {list(COLUMNS)}")
    emotion_at, pixels_at, usage_at = (header.index(c) for c in COLUMNS)
    # In the published column order a comma inside the pixel field is caught by the pixel check; otherwise count.
    published_order = header == list(COLUMNS)

    texts: list[memoryview] = []
    labels: list[int] = []
    usage: list[str] = []
    positions: list[int] = []
    stop = len(data)
    while stop > 0 and data[stop - 1] in b" \t\n":  # trailing blank lines end the file, they are not rows
        stop -= 1
    start, position = header_end + 1, 0
    while start < stop:
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        first, last = data.find(b",", start, end), data.rfind(b",", start, end)
        commas = 2 if published_order and 0 <= first < last else data.count(b",", start, end)
        if commas != len(COLUMNS) - 1:
            policy.reject(path, f"expected {len(COLUMNS)} comma-separated fields, got {commas + 1}", position + 2)
        else:
            spans = ((start, first), (first + 1, last), (last + 1, end))
            label = data[spans[emotion_at][0]:spans[emotion_at][1]].strip()
            use = data[spans[usage_at][0]:spans[usage_at][1]].strip().decode(errors="replace")
            if not label.isdigit() or int(label) > 6:
                policy.reject(path, f"emotion {label.decode(errors='replace')!r} is not in 0-6", position + 2)
            elif use not in USAGE_SPLITS:
                policy.reject(path, f"Usage {use!r} is not one of {', '.join(USAGE_SPLITS)}", position + 2)
            else:
                texts.append(_stripped(view, *spans[pixels_at]))
                labels.append(int(label))
                usage.append(use)
                positions.append(position)
        start, position = end + 1, position + 1

    pixels = np.empty((len(texts), PIXELS_PER_ROW), dtype=np.uint8)
    chunks = [(start, min(start + _CHUNK_ROWS, len(texts))) for start in range(0, len(texts), _CHUNK_ROWS)]
    # numpy releases the GIL in the heavy steps, so chunks parse in parallel threads.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        found = list(pool.map(lambda c: _parse_rows(texts[c[0]:c[1]], pixels[c[0]:c[1]]), chunks))
    bad = []
    for (start, _), problems in zip(chunks, found):
        for row, reason in problems:
            policy.reject(path, reason, positions[start + row] + 2)
            bad.append(start + row)
    labels_array, positions_array = np.array(labels, dtype=np.int64), np.array(positions, dtype=np.int64)
    if bad:
        keep = np.setdiff1d(np.arange(len(texts)), bad)
        pixels, labels_array, positions_array = pixels[keep], labels_array[keep], positions_array[keep]
        usage = [usage[i] for i in keep]
    return Fer2013Rows(path, pixels.reshape(-1, SIDE, SIDE), labels_array, usage, positions_array, position)


def _stripped(view: memoryview, start: int, end: int) -> memoryview:
    """view[start:end] without surrounding spaces, still a view."""
    while start < end and view[start] == 32:
        start += 1
    while end > start and view[end - 1] == 32:
        end -= 1
    return view[start:end]


# Digit values by byte, for the last, second-last and third-last digit of a number. A space before a short
# number counts 0; any other byte is flagged by a value no pixel can reach.
_INVALID = 4096
_ONES, _TENS, _HUNDREDS = (np.full(256, _INVALID, dtype=np.uint16) for _ in range(3))
_ONES[48:58] = np.arange(10)
_TENS[48:58], _TENS[32] = np.arange(10) * 10, 0
_HUNDREDS[48:58], _HUNDREDS[32] = np.arange(10) * 100, 0


def _parse_rows(texts: list[memoryview], out: np.ndarray) -> list[tuple[int, str]]:
    """Parse pixel texts into `out` (rows, 2304); returns (row, reason) for rows that are not 2,304 numbers 0-255."""
    if _parse_fast(texts, out):
        return []
    problems = [(row, reason) for row, text in enumerate(texts) if (reason := _row_problem(bytes(text)))]
    good = [row for row in range(len(texts)) if row not in dict(problems)]
    if good:
        parsed = np.empty((len(good), PIXELS_PER_ROW), dtype=np.uint8)
        if not _parse_fast([texts[row] for row in good], parsed):
            raise AssertionError("rows that pass the row-by-row check failed the bulk parse")
        out[good] = parsed
    return problems


def _parse_fast(texts: list[memoryview], out: np.ndarray) -> bool:
    """Bulk parse: every number ends at a space; read its last three bytes through the digit tables.

    Returns False, leaving `out` unspecified, when any row is not exactly 2,304 numbers of 1-3 digits, 0-255.
    """
    joined = np.frombuffer(b" ".join(texts) + b" ", dtype=np.uint8)
    ends = np.flatnonzero(joined == 32)
    row_ends = np.cumsum([len(text) + 1 for text in texts]) - 1
    if ends.size != out.size or not np.array_equal(np.searchsorted(ends, row_ends) + 1,
                                                   np.arange(1, len(texts) + 1) * PIXELS_PER_ROW):
        return False
    tens = joined[ends - 2]
    hundreds = joined[ends - 3]
    one_digit = tens == 32
    hundreds[one_digit] = 32  # before a one-digit number, ends - 3 is the previous number's last digit
    # Digits counted from the last three bytes must account for every non-space byte: none has 4+ digits.
    digits = 3 * ends.size - np.count_nonzero(one_digit) - np.count_nonzero(hundreds == 32)
    if digits != joined.size - ends.size:
        return False
    values = _ONES[joined[ends - 1]]
    values += _TENS[tens]
    values += _HUNDREDS[hundreds]
    if values.max() > 255:
        return False
    out[:] = values.reshape(out.shape)
    return True


def _row_problem(text: bytes) -> str | None:
    """What is wrong with one row's pixel text, checked number by number (the slow path, for bad rows only)."""
    if b"," in text:
        return f"expected {len(COLUMNS)} comma-separated fields, got {text.count(b',') + len(COLUMNS)}"
    numbers = text.split(b" ")
    if not all(n.isdigit() and len(n) <= 3 for n in numbers):
        return "pixel values must be numbers 0-255 separated by single spaces"
    if len(numbers) != PIXELS_PER_ROW:
        return f"{len(numbers)} pixel values; expected {PIXELS_PER_ROW} (48 x 48)"
    if max(int(n) for n in numbers) > 255:
        return "pixel value above 255"
    return None


def find_folders(root: Path) -> dict[str, Path]:
    """The Kaggle `train/` and `test/` folders found in `root` (or `root/fer2013/`); empty when there are none."""
    for base in (root, root / "fer2013"):
        found = {name: base / name for name in FOLDER_USAGES if (base / name).is_dir()}
        if found:
            return found
    return {}


def read_folders(folders: dict[str, Path], policy: BadInputPolicy) -> list[Sample]:
    """Samples from the Kaggle image folders, sorted by folder and name; bad entries go through `policy`.

    Only directory entries are consulted (no stat per file, no decoding), so the 35,887 files list quickly.
    """
    samples: list[Sample] = []
    owner: dict[str, Path] = {}
    for top, folder in folders.items():
        for class_entry in _listing(folder, policy):
            class_dir = Path(class_entry.path)
            if not class_entry.is_dir():
                policy.reject(class_dir, f"not a class folder (expected {top}/<class>/ folders only)")
                continue
            label = _folder_label(class_dir.name)
            if label is None:
                policy.reject(class_dir, f"class folder {class_dir.name!r} is not one of FER2013's classes "
                                         f"(angry, disgust, fear, happy, sad, surprise, neutral)")
                continue
            for entry in _listing(class_dir, policy):
                path = Path(entry.path)
                usage = entry.name.split("_", 1)[0]
                if not entry.is_file():
                    policy.reject(path, "not an image file (class folders hold images only)")
                elif path.suffix.lower() not in IMAGE_SUFFIXES:
                    policy.reject(path, f"not an image file (expected one of {', '.join(IMAGE_SUFFIXES)})")
                elif usage not in FOLDER_USAGES[top]:
                    policy.reject(path, f"file name starts with {usage!r}, not with "
                                        f"{' or '.join(u + '_' for u in FOLDER_USAGES[top])} as {top}/ files do")
                elif (key := f"{class_dir.name}/{path.stem}") in owner:
                    policy.reject(path, f"same name as {owner[key]} apart from the suffix")
                else:
                    owner[key] = path
                    samples.append(Sample(path, label, key, None, {"split": USAGE_SPLITS[usage], "usage": usage}))
    return samples


def _listing(folder: Path, policy: BadInputPolicy) -> list[os.DirEntry]:
    """The entries of `folder` (hidden ones left out) in name order; an unlistable folder is rejected whole."""
    try:
        with os.scandir(folder) as entries:
            return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError as error:
        policy.reject(folder, f"cannot list the folder: {error.strerror or error}")
        return []


def _folder_label(name: str) -> int | None:
    """FER2013's index for a class folder name (angry, Happy, ...), or None for a name that is not one."""
    try:
        return FER2013_CLASSES.index(canonical_name(name))
    except ValueError:
        return None


def read(root: Path, *, skip_bad: bool = False) -> SampleSet:
    """FER2013 with its official split (Training -> train, PublicTest -> val, PrivateTest -> test).

    Reads fer2013.csv when `root` is or holds it, else Kaggle's train/ and test/ image folders.
    """
    policy = BadInputPolicy("fer2013", skip_bad)
    try:
        csv_path = find_csv(root)
    except FileNotFoundError as cause:
        folders = find_folders(root)
        if not folders:
            raise FileNotFoundError(f"{root}: neither {CSV_NAME} nor the image folders train/<class>/ and "
                                    f"test/<class>/ found") from cause
        return SampleSet("fer2013", FER2013_CLASSES, read_folders(folders, policy), policy.report())
    rows = parse_csv(csv_path, policy)
    samples = [Sample(rows.pixels[i], int(rows.labels[i]), f"row{rows.positions[i]:05d}", None,
                      {"split": USAGE_SPLITS[rows.usage[i]], "usage": rows.usage[i]})
               for i in range(len(rows.labels))]
    return SampleSet("fer2013", FER2013_CLASSES, samples, policy.report())
