"""The table of pinned files: well-formed entries, one per file, and no sha256 spelled anywhere else."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pytest

from pcnn_fer.weights import pinned
from pcnn_fer.weights.pinned import PINNED_FILES, pinned_file

REPO = Path(__file__).resolve().parents[2]
HEX64 = re.compile(r"^[0-9a-f]{64}$")
ANY_HEX64 = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")
VERSION = re.compile(r"^\d+(\.\d+)*$")
# Where pinned files are used: the library, and the benchmarks that score peers on them.
USERS = [*(REPO / "src" / "pcnn_fer").rglob("*.py"), *(REPO / "benchmarks").glob("*.py")]
TABLE = Path(pinned.__file__).resolve()


def _relative(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return bool(parts) and not path.startswith("/") and ".." not in parts and "\\" not in path


@pytest.mark.parametrize("name", sorted(PINNED_FILES))
def test_every_entry_is_well_formed(name: str) -> None:
    entry = PINNED_FILES[name]
    assert re.fullmatch(r"[a-z0-9_]+", name)
    assert HEX64.match(entry.archive.sha256) and HEX64.match(entry.sha256), "sha256 must be 64 lowercase hex digits"
    separator = "@" if entry.archive.registry == "npm" else "=="
    assert VERSION.match(entry.archive.version)
    assert entry.archive.requirement == f"{entry.archive.package}{separator}{entry.archive.version}"
    assert entry.archive.package and " " not in entry.archive.package
    assert _relative(entry.member) and entry.filename
    assert all(_relative(f) and not f.endswith("/") for f in entry.files) and len(set(entry.files)) == len(entry.files)
    assert entry.is_folder or not entry.files, "only a folder lists files"
    assert len(entry.note) > 20, "say what the file serves and under which terms"


def test_one_entry_per_file_and_one_release_per_package() -> None:
    places = [(entry.archive.package, entry.member) for entry in PINNED_FILES.values()]
    assert len(set(places)) == len(places)
    releases = {entry.archive.package: set() for entry in PINNED_FILES.values()}
    for entry in PINNED_FILES.values():
        releases[entry.archive.package].add(entry.archive)
    assert all(len(archives) == 1 for archives in releases.values()), releases


def test_every_entry_is_used_and_every_user_takes_it_from_the_table() -> None:
    from pcnn_fer.faces.mtcnn import WEIGHTS

    sources = {path: path.read_text() for path in USERS if path.resolve() != TABLE}
    by_name = {name for name in PINNED_FILES if any(f'"{name}"' in text for text in sources.values())}
    by_stage = {name for name, entry in PINNED_FILES.items() if any(entry is w for w in WEIGHTS.values())}
    assert by_name | by_stage == set(PINNED_FILES), "every entry serves some module"
    for path, text in sources.items():
        declared = re.search(r"\b(PinnedFile|PackageArchive)\(", text)
        assert path.name == "sources.py" or declared is None, f"{path} declares a pinned file of its own"


def test_no_module_outside_the_table_spells_a_sha256() -> None:
    offenders = [f"{path.relative_to(REPO)}: {match.group()}" for path in USERS if path.resolve() != TABLE
                 for match in ANY_HEX64.finditer(path.read_text())]
    assert offenders == []


def test_users_hold_the_table_entries() -> None:
    from pcnn_fer.data.fetch import SAMPLE
    from pcnn_fer.data.sample_photos import PHOTOS, SAMPLE_MEDIA, VIDEOS
    from pcnn_fer.faces.mtcnn import STAGES, WEIGHTS

    assert set(WEIGHTS) == set(STAGES) and all(w is PINNED_FILES[f"mtcnn_{s}"] for s, w in WEIGHTS.items())
    assert SAMPLE is PINNED_FILES["emopy_ckplus_images"] and SAMPLE_MEDIA is PINNED_FILES["pyfeat_sample_media"]
    assert SAMPLE_MEDIA.files == PHOTOS + VIDEOS and len(PHOTOS) == 8


def test_an_unknown_name_lists_the_entries() -> None:
    with pytest.raises(KeyError, match="no pinned file 'resnet50'.*mobilenet_v2_imagenet, mtcnn_pnet"):
        pinned_file("resnet50")
