"""CK+ (extended Cohn-Kanade): `cohn-kanade-images/Sxxx/nnn/Sxxx_nnn_ffffffff.png` image sequences, labelled by
`Emotion/Sxxx/nnn/Sxxx_nnn_ffffffff_emotion.txt` (one float code 0-7: neutral, anger, contempt, disgust, fear,
happy, sadness, surprise) for the sequences that carry a label.

Protocol: the last `frames` (default 3) frames of each labelled sequence take its label; optionally the
onset frame (frame 1, neutral in CK+) of labelled sequences, or of every sequence, is added as neutral.
The onset frame is never counted among a sequence's peak frames, so partial sequences (such as the CK+
sample fetched by `pcnn-fer data fetch ckplus-sample`, which has one onset and two peak frames per
labelled sequence) are read correctly. Evaluated by subject-independent k-fold (no official split).
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from pathlib import Path

from pcnn_fer.data.bad_input import BadInputPolicy
from pcnn_fer.data.labels import CKPLUS_CLASSES
from pcnn_fer.data.sample import Sample, SampleSet

log = logging.getLogger(__name__)

IMAGE_DIR = "cohn-kanade-images"
EMOTION_DIR = "Emotion"
FRAME_NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)\.png$", re.IGNORECASE)
EMOTION_NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)_emotion\.txt$", re.IGNORECASE)
NEUTRAL_CHOICES = ("none", "labelled", "all")
ONSET_FRAME = 1


def find_root(root: Path) -> Path:
    """The folder holding cohn-kanade-images/ and Emotion/ (the folder itself or one level below)."""
    subfolders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for candidate in (root, *subfolders):
        if (candidate / IMAGE_DIR).is_dir() and (candidate / EMOTION_DIR).is_dir():
            return candidate
    raise FileNotFoundError(f"{root}: no CK+ dataset here (expected {IMAGE_DIR}/ and {EMOTION_DIR}/ folders)")


def read(root: Path, *, skip_bad: bool = False, frames: int = 3, neutral: str = "none",
         contempt: bool = True) -> SampleSet:
    """CK+ under the last-`frames` protocol; neutral="labelled"|"all" adds onset frames as neutral.

    Classes: the seven expressions (anger, contempt, disgust, fear, happiness, sadness, surprise), plus neutral
    when onset frames are added; contempt=False drops contempt (the 6/7-class settings).
    """
    if neutral not in NEUTRAL_CHOICES:
        raise ValueError(f"CK+ neutral must be one of {', '.join(NEUTRAL_CHOICES)}, got {neutral!r}")
    if frames < 1:
        raise ValueError(f"CK+ frames must be at least 1, got {frames}")
    root = find_root(root)
    policy = BadInputPolicy("ckplus", skip_bad)
    sequences = _sequences(root / IMAGE_DIR, policy)
    codes = _emotion_codes(root / EMOTION_DIR, sequences, policy)
    excluded = {"neutral"} if neutral == "none" else set()
    excluded |= set() if contempt else {"contempt"}
    classes = tuple(c for c in CKPLUS_CLASSES if c not in excluded)
    index = {name: i for i, name in enumerate(classes)}

    samples: list[Sample] = []
    left_out: dict[str, int] = defaultdict(int)
    for (subject, sequence), frame_paths in sorted(sequences.items()):
        onset = frame_paths.get(ONSET_FRAME)
        code = codes.get((subject, sequence))
        tags = {"sequence": f"{subject}_{sequence}"}
        if onset is not None and (neutral == "all" or (neutral == "labelled" and code is not None)):
            samples.append(Sample(onset, index["neutral"], onset.stem, subject, {**tags, "frame": "onset"}))
        if code is None:
            continue
        name = CKPLUS_CLASSES[code]
        if name not in index:
            left_out[name] += 1
            continue
        peaks = [frame_paths[f] for f in sorted(frame_paths) if f != ONSET_FRAME][-frames:]
        if not peaks:  # only the onset frame is there: it is neutral, not the labelled expression
            left_out["sequences without peak frames"] += 1
            continue
        samples.extend(Sample(p, index[name], p.stem, subject, {**tags, "frame": "peak"}) for p in peaks)
    for what, count in left_out.items():
        log.info("ckplus: left out %d labelled sequence(s): %s (not in this class setting)", count, what)
    return SampleSet("ckplus", classes, samples, policy.report())


def _sequences(image_dir: Path, policy: BadInputPolicy) -> dict[tuple[str, str], dict[int, Path]]:
    """{(subject, sequence): {frame number: path}} from cohn-kanade-images/Sxxx/nnn/."""
    sequences: dict[tuple[str, str], dict[int, Path]] = defaultdict(dict)
    for path in sorted(image_dir.glob("*/*/*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        match = FRAME_NAME.match(path.name)
        subject_dir, sequence_dir = path.parent.parent.name, path.parent.name
        if match is None or (match[1], match[2]) != (subject_dir, sequence_dir):
            policy.reject(path, f"expected a frame named {subject_dir}_{sequence_dir}_<8-digit frame>.png")
            continue
        sequences[(subject_dir, sequence_dir)][int(match[3])] = path
    return sequences


def _emotion_codes(emotion_dir: Path, sequences: dict, policy: BadInputPolicy) -> dict[tuple[str, str], int]:
    """{(subject, sequence): code 0-7} from Emotion/Sxxx/nnn/*_emotion.txt."""
    codes: dict[tuple[str, str], int] = {}
    for path in sorted(emotion_dir.glob("*/*/*_emotion.txt")):
        key = (path.parent.parent.name, path.parent.name)
        if EMOTION_NAME.match(path.name) is None:
            policy.reject(path, "expected a label file named Sxxx_nnn_<frame>_emotion.txt")
            continue
        if key in codes:
            policy.reject(path, f"sequence {key[0]}/{key[1]} has more than one emotion file")
            continue
        text = path.read_text(errors="replace").strip()
        try:
            value = float(text)
        except ValueError:
            policy.reject(path, f"expected one number 0-7 (e.g. 3.0000000e+00), got {text[:40]!r}", 1)
            continue
        # NaN and infinity parse as floats but are no codes; int() of them would raise.
        if not (math.isfinite(value) and value.is_integer() and 0 <= value <= 7):
            policy.reject(path, f"emotion code {text!r} is not a whole number in 0-7", 1)
            continue
        if key not in sequences:
            policy.reject(path, f"labels a sequence with no frames under {IMAGE_DIR}/{key[0]}/{key[1]}/")
            continue
        codes[key] = int(value)
    return codes
