"""Data-path figures: FER2013-size CSV parse time; images/s from the decoded cache vs decoding JPEG files.

Run: python benchmarks/bench_data.py [--images 2000] [--size 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pcnn_fer.data.cache import DecodedCache
from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.preprocessing import Preprocessing
from pcnn_fer.data.sample import Sample, SampleSet
from pcnn_fer.data.torch_dataset import FERDataset
from pcnn_fer.data.transforms import eval_transform

FER2013_USAGE = (("Training", 28709), ("PublicTest", 3589), ("PrivateTest", 3589))  # 35,887 rows


def write_fer2013_csv(path: Path, seed: int = 0) -> int:
    """A CSV of FER2013's size and format with random faces; returns the row count."""
    rng = np.random.default_rng(seed)
    block = rng.integers(0, 256, (512, 48 * 48), dtype=np.uint8)
    texts = [" ".join(map(str, row.tolist())) for row in block]
    rows = 0
    with open(path, "w") as out:
        out.write("emotion,pixels,Usage\n")
        for usage, count in FER2013_USAGE:
            for _ in range(count):
                out.write(f"{rows % 7},{texts[rows % len(texts)]},{usage}\n")
                rows += 1
    return rows


def time_parse(path: Path, repeats: int) -> tuple[list[float], list[float]]:
    """Wall-clock and process CPU seconds of each full read (CPU time also counts the parsing threads)."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        samples = load_dataset("fer2013", path)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        if len(samples) != 35887:
            raise RuntimeError(f"parsed {len(samples)} rows, expected 35,887")
    return wall, cpu


def write_jpegs(folder: Path, count: int, size: int) -> SampleSet:
    """RAF-DB-like aligned faces: count JPEGs of size x size (smooth noise, quality 95)."""
    rng = np.random.default_rng(1)
    samples = []
    for i in range(count):
        small = rng.integers(0, 256, (size // 4, size // 4, 3), dtype=np.uint8)
        image = Image.fromarray(small).resize((size, size), Image.BILINEAR)
        path = folder / f"train_{i:05d}_aligned.jpg"
        image.save(path, quality=95)
        samples.append(Sample(path, i % 7, path.stem))
    return SampleSet("bench", tuple(f"c{i}" for i in range(7)), samples)


def images_per_second(dataset: FERDataset, with_transform: bool) -> float:
    start = time.perf_counter()
    for index in range(len(dataset)):
        _ = dataset[index] if with_transform else dataset.pixels(index)
    return len(dataset) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000, help="JPEG files to generate (default 2000)")
    parser.add_argument("--size", type=int, default=100, help="JPEG side in pixels (default 100, as RAF-DB aligned)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv_path = tmp / "fer2013.csv"
        rows = write_fer2013_csv(csv_path)
        wall, cpu = time_parse(csv_path, args.repeats)
        print(f"FER2013 CSV parse: {rows:,} rows, {csv_path.stat().st_size / 1e6:.0f} MB: wall best {min(wall):.2f} s, "
              f"median {statistics.median(wall):.2f} s; CPU median {statistics.median(cpu):.2f} s "
              f"over {args.repeats} runs, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")

        (tmp / "jpeg").mkdir()
        samples = write_jpegs(tmp / "jpeg", args.images, args.size)
        start = time.perf_counter()
        cache = DecodedCache.build(samples, tmp / "cache", progress=False)
        build = time.perf_counter() - start
        print(f"cache build: {len(cache)} images of {args.size}x{args.size} in {build:.2f} s")
        transform = eval_transform(Preprocessing(224))
        for with_transform in (False, True):
            label = "decode + eval transform to 224" if with_transform else "pixels only"
            from_files = images_per_second(FERDataset(samples, transform), with_transform)
            from_cache = images_per_second(FERDataset(samples, transform, cache=cache), with_transform)
            print(f"{label}: JPEG files {from_files:,.0f} img/s, cache {from_cache:,.0f} img/s "
                  f"({from_cache / from_files:.1f}x), 1 thread")


if __name__ == "__main__":
    main()
