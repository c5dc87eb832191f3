"""Pack a folder of small same-size face images into one xz archive, and unpack it back, pixel for pixel.

    python scripts/pack_faces.py pack ../shared/data/ferplus .pack/ferplus.xz [--leave-out FER2013Test]
    python scripts/pack_faces.py unpack .pack/ferplus.xz data/ferplus

Why: a training machine reached by copying a working tree (a rented GPU, a cluster node) takes a size-capped
tree; FERPlus's 35,710 PNG files take 148 MB on disk, their raw pixels compress to a fraction of that. Images are
stored as one uint8 array per folder, each row as its difference to the row above (PNG's "up" filter: ~9 % smaller
after xz), lossless: `unpack` writes PNG files with the same pixels and names. Every other file (CSV votes, label
files) travels verbatim. Only the publisher's layout is restored, nothing is added; `--leave-out` drops folders
that the receiving machine does not need (a test split scored elsewhere).
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
import time
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def pack(source: Path, archive: Path, leave_out: tuple[str, ...] = ()) -> None:
    """Write `source`'s images (grouped by folder, one uint8 array each) and other files into `archive`."""
    started = time.perf_counter()
    index: dict = {"folders": {}, "files": {}}
    blobs: list[bytes] = []
    offset = 0
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source).as_posix()
        if relative.split("/")[0] in leave_out:
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES:
            index["folders"].setdefault(path.parent.relative_to(source).as_posix(), []).append(path.name)
        elif path.name != "MANIFEST.sha256":
            data = path.read_bytes()
            index["files"][relative] = [offset, len(data)]
            blobs.append(data)
            offset += len(data)
    arrays = {}
    for folder, names in index["folders"].items():
        pixels = up_filter(np.stack([np.asarray(Image.open(source / folder / name)) for name in names]))
        arrays[folder] = [offset, pixels.nbytes, list(pixels.shape), str(pixels.dtype)]
        blobs.append(pixels.tobytes())
        offset += pixels.nbytes
    index["arrays"] = arrays
    header = json.dumps(index).encode()
    archive.parent.mkdir(parents=True, exist_ok=True)
    with lzma.open(archive, "wb", preset=9 | lzma.PRESET_EXTREME) as stream:
        stream.write(len(header).to_bytes(8, "little") + header)
        for blob in blobs:
            stream.write(blob)
    images = sum(len(v) for v in index["folders"].values())
    print(f"packed {images} images in {len(arrays)} folders and {len(index['files'])} files from {source} into "
          f"{archive} ({archive.stat().st_size / 2**20:.1f} MiB, {offset / 2**20:.1f} MiB raw) in "
          f"{time.perf_counter() - started:.0f} s")


def up_filter(images: np.ndarray) -> np.ndarray:
    """Each image row minus the row above, modulo 256 (the first row as is)."""
    filtered = images.copy()
    filtered[:, 1:] = images[:, 1:] - images[:, :-1]  # uint8 arithmetic wraps modulo 256
    return filtered


def up_unfilter(filtered: np.ndarray) -> np.ndarray:
    """The inverse of up_filter: running sums down the rows, modulo 256."""
    return np.cumsum(filtered, axis=1, dtype=np.uint8)


def unpack(archive: Path, target: Path) -> None:
    """Restore the folder `pack` read: the same names, the same pixels (as PNG), the same other files."""
    started = time.perf_counter()
    with lzma.open(archive, "rb") as stream:
        size = int.from_bytes(stream.read(8), "little")
        index = json.loads(stream.read(size))
        payload = stream.read()
    for relative, (start, length) in index["files"].items():
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (target / relative).write_bytes(payload[start:start + length])
    for folder, names in index["folders"].items():
        start, length, shape, dtype = index["arrays"][folder]
        pixels = up_unfilter(np.frombuffer(payload[start:start + length], dtype=dtype).reshape(shape))
        (target / folder).mkdir(parents=True, exist_ok=True)
        for name, image in zip(names, pixels):
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format="PNG")
            (target / folder / name).write_bytes(buffer.getvalue())
    print(f"unpacked {sum(len(v) for v in index['folders'].values())} images into {target} in "
          f"{time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("pack", "unpack"))
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--leave-out", action="append", default=[], help="pack: a top-level folder to leave out")
    args = parser.parse_args()
    if args.action == "pack":
        pack(args.source, args.target, tuple(args.leave_out))
    else:
        unpack(args.source, args.target)


if __name__ == "__main__":
    main()
