"""Decoded-image cache: a dataset decoded once into one uint8 memory-mapped file, so epochs skip JPEG decoding.

Layout of a cache directory: `pixels.u8` (every image's RGB bytes, back to back) and `index.json` (per sample
key: byte offset, height, width and a fingerprint of its source). A source file's fingerprint is its size and
modification time; an in-memory array's is a hash of its bytes. A cache whose fingerprints no longer match
the samples is stale and `ensure` rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from pcnn_fer.atomic import atomic_path, write_text
from pcnn_fer.data.images import ImageError, load_image
from pcnn_fer.data.preprocessing import resize_square
from pcnn_fer.data.sample import Sample, SampleSet
from pcnn_fer.progress import progress as progress_bar

INDEX_FILE = "index.json"
PIXELS_FILE = "pixels.u8"
FORMAT_VERSION = 2  # 2: resized by the transforms' own resizer (1 used OpenCV's)


class StaleCacheError(ValueError):
    """The cache does not hold these samples as they are now on disk."""


def fingerprint(sample: Sample) -> str:
    """What must stay the same for a cached decode of `sample` to remain valid."""
    if isinstance(sample.source, np.ndarray):
        pixels = np.ascontiguousarray(sample.source)
        return f"array:{pixels.shape}:{hashlib.blake2b(pixels.tobytes(), digest_size=8).hexdigest()}"
    stat = os.stat(sample.source)
    return f"file:{stat.st_size}:{stat.st_mtime_ns}"


def decode(sample: Sample, size: int | None) -> np.ndarray:
    """A sample's pixels as RGB uint8, resized to size x size when a size is given.

    The resizer is the transforms' own, so a cached image reaches the model as the same tensor as a decoded one.
    """
    rgb = load_image(sample.source)
    return rgb if size is None else resize_square(rgb, size)


class DecodedCache:
    """Read access to a built cache: `cache.image(key)` is a read-only (H, W, 3) uint8 view, no decoding."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        index_path = self.directory / INDEX_FILE
        try:
            index = json.loads(index_path.read_text())
        except FileNotFoundError as cause:
            raise StaleCacheError(f"{index_path}: no cache index (build the cache first)") from cause
        except json.JSONDecodeError as error:
            raise StaleCacheError(f"{index_path}: corrupt cache index ({error})") from error
        if index.get("format") != FORMAT_VERSION:
            raise StaleCacheError(f"{index_path}: cache format {index.get('format')}, expected {FORMAT_VERSION}")
        self.size: int | None = index["size"]
        self.skipped: dict[str, str] = index["skipped"]
        self._entries: dict[str, list] = index["entries"]
        self._pixels: np.memmap | None = None

    @classmethod
    def build(cls, samples: SampleSet, directory: str | Path, *, size: int | None = None, skip_bad: bool = False,
              progress: bool = True) -> DecodedCache:
        """Decode every sample into `directory`; undecodable ones raise unless skip_bad (then listed in .skipped)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        entries: dict[str, list] = {}
        skipped: dict[str, str] = {}
        offset = 0
        # Pixels first, index last: an index on disk always describes a complete pixel file.
        (directory / INDEX_FILE).unlink(missing_ok=True)
        with atomic_path(directory / PIXELS_FILE) as partial, open(partial, "wb") as out:
            for sample in progress_bar(samples, len(samples), f"caching {samples.name}", progress, unit="img"):
                if sample.key in entries or sample.key in skipped:
                    raise ValueError(f"{samples.name}: sample key {sample.key!r} occurs twice; keys must be unique")
                try:
                    rgb = decode(sample, size)
                except ImageError as error:
                    if not skip_bad:
                        raise
                    skipped[sample.key] = str(error)
                    continue
                out.write(rgb.tobytes())
                entries[sample.key] = [offset, rgb.shape[0], rgb.shape[1], fingerprint(sample)]
                offset += rgb.size
        index = {"format": FORMAT_VERSION, "size": size, "dataset": samples.name, "skipped": skipped,
                 "entries": entries}
        write_text(directory / INDEX_FILE, json.dumps(index))
        return cls(directory)

    @classmethod
    def ensure(cls, samples: SampleSet, directory: str | Path, *, size: int | None = None, skip_bad: bool = False,
               progress: bool = True) -> DecodedCache:
        """The cache in `directory` if it holds `samples` unchanged at this size, else a freshly built one."""
        try:
            cache = cls(directory)
            cache.check(samples, size)
            return cache
        except StaleCacheError:
            return cls.build(samples, directory, size=size, skip_bad=skip_bad, progress=progress)

    def check(self, samples: SampleSet, size: int | None = None) -> None:
        """Raise StaleCacheError unless every sample is cached (or recorded as skipped) from its current source."""
        if size != self.size:
            raise StaleCacheError(f"{self.directory}: cached at size {self.size}, requested {size}")
        for sample in samples:
            if sample.key in self.skipped:
                continue
            entry = self._entries.get(sample.key)
            if entry is None:
                raise StaleCacheError(f"{self.directory}: sample {sample.key} is not cached")
            try:
                current = fingerprint(sample)
            except OSError as error:
                raise StaleCacheError(f"{self.directory}: source of {sample.key} unreadable ({error})") from error
            if entry[3] != current:
                raise StaleCacheError(f"{self.directory}: source of {sample.key} changed since it was cached")

    def __len__(self) -> int:
        return len(self._entries)

    def image(self, key: str) -> np.ndarray:
        """The cached RGB uint8 (H, W, 3) pixels of the sample with this key."""
        entry = self._entries.get(key)
        if entry is None:
            reason = self.skipped.get(key, "not in the cache")
            raise KeyError(f"{self.directory}: no cached image for {key!r} ({reason})")
        offset, height, width = entry[0], entry[1], entry[2]
        if self._pixels is None:
            path = self.directory / PIXELS_FILE
            self._pixels = np.memmap(path, dtype=np.uint8, mode="r") if path.stat().st_size else np.zeros(0, np.uint8)
        return self._pixels[offset:offset + height * width * 3].reshape(height, width, 3)

    def __getstate__(self) -> dict:
        # Data-loader workers reopen the memory map themselves instead of receiving a pickled copy of the pixels.
        state = self.__dict__.copy()
        state["_pixels"] = None
        return state
