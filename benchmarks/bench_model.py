#!/usr/bin/env python3
"""CPU cost of the PCNN variants against torchvision's resnet18, measured in the same process.

Prints used parameters, GMACs at 224, median latency at batch 1, median throughput at batch 32 and the
size of a saved model directory, with each variant's time as a multiple of resnet18's, for the models as
built and as `Recognizer` runs them (BatchNorm folded, channels-last; see pcnn_fer.models.optimize). Models are timed
in turns within each repeat, so load from other processes affects them alike.

    python benchmarks/bench_model.py [--variants pcnn_r18 pcnn_mbv2] [--threads 2] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torchvision
from torch import nn

from pcnn_fer.models import count_parameters, create_model
from pcnn_fer.models.complexity import count_macs
from pcnn_fer.models.optimize import fold_batchnorm, optimize_for_inference

# Targets for pcnn_r18 in eager mode (the reference implementation measures 2.5x and 1.8x).
TARGETS = {"batch 1": 2.5, "batch 32": 1.8}
CHECKPOINT_TARGET_MB = 105.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", default=["pcnn_r18", "pcnn_mbv2"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per model and batch size")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--size", type=int, default=224)
    return parser.parse_args()


def seconds(model: nn.Module, images: torch.Tensor) -> float:
    start = time.perf_counter()
    model(images)
    return time.perf_counter() - start


def time_in_turns(models: dict[str, nn.Module], images: torch.Tensor, repeats: int, warmup: int) -> dict[str, list]:
    """Per model, `repeats` forward times; each repeat runs every model once."""
    times: dict[str, list[float]] = {name: [] for name in models}
    with torch.no_grad():
        for _ in range(warmup):
            for model in models.values():
                model(images)
        for _ in range(repeats):
            for name, model in models.items():
                times[name].append(seconds(model, images))
    return times


def checkpoint_megabytes(model: nn.Module) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        return sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models: dict[str, nn.Module] = {"resnet18": torchvision.models.resnet18(weights=None).eval()}
    models.update({name: create_model(name).eval() for name in args.variants})
    # What `Recognizer` runs: BatchNorm folded, channels-last. resnet18 treated alike, for a like-for-like ratio.
    models["resnet18+opt"] = fold_batchnorm(torchvision.models.resnet18(weights=None).eval()).to(
        memory_format=torch.channels_last)
    models.update({f"{name}+opt": optimize_for_inference(models[name]) for name in args.variants})

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, input {args.size}x{args.size}, "
          f"median of {args.repeats} runs after {args.warmup} warm-up runs")
    medians: dict[str, dict[str, float]] = {}
    for label, batch in (("batch 1", 1), ("batch 32", 32)):
        images = torch.randn(batch, 3, args.size, args.size)
        times = time_in_turns(models, images, args.repeats, args.warmup)
        medians[label] = {name: statistics.median(t) for name, t in times.items()}

    yardstick = medians["batch 1"]["resnet18"], medians["batch 32"]["resnet18"]
    header = (f"{'model':<14} {'params (M)':>10} {'GMACs':>6} {'b1 latency (ms)':>16} {'x resnet18':>10} "
              f"{'b32 (img/s)':>12} {'x resnet18':>10} {'checkpoint (MB)':>16}")
    print(header)
    print("-" * len(header))
    for name, model in models.items():
        b1, b32 = medians["batch 1"][name], medians["batch 32"][name]
        saved = hasattr(model, "save_pretrained") and not getattr(model, "inference_only", False)
        size = f"{checkpoint_megabytes(model):16.1f}" if saved else f"{'-':>16}"
        print(f"{name:<14} {count_parameters(model) / 1e6:10.2f} {count_macs(model, args.size) / 1e9:6.2f} "
              f"{1000 * b1:16.1f} {b1 / yardstick[0]:10.2f} {32 / b32:12.1f} {b32 / yardstick[1]:10.2f} {size}")

    if "pcnn_r18" in models:
        print("targets for pcnn_r18 (times eager torchvision resnet18):")
        for variant in ("pcnn_r18", "pcnn_r18+opt"):
            for (label, limit), base in zip(TARGETS.items(), yardstick):
                ratio = medians[label][variant] / base
                verdict = "met" if ratio <= limit else "missed"
                print(f"  {variant:<13} {label}: {ratio:.2f}x (target <= {limit}x): {verdict}")
        for label in TARGETS:
            ratio = medians[label]["pcnn_r18+opt"] / medians[label]["resnet18+opt"]
            print(f"  like for like, both optimised, {label}: {ratio:.2f}x")
        size = checkpoint_megabytes(models["pcnn_r18"])
        verdict = "met" if size <= CHECKPOINT_TARGET_MB else "missed"
        print(f"  checkpoint: {size:.1f} MB (target <= {CHECKPOINT_TARGET_MB:.0f} MB): {verdict}")


if __name__ == "__main__":
    main()
