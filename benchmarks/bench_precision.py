#!/usr/bin/env python3
"""Faster arithmetic for the deployed model, and what it costs: float32 (torch and onnxruntime), int8 (onnxruntime
static quantisation, calibrated on real faces of FERPlus Valid) and bfloat16 (torch autocast, where the CPU has
it), each against float32 torch on FERPlus Test (majority rule).

Prints per precision: top-1 agreement with float32, accuracy and its change, and milliseconds per face at batch 1
and batched. A precision is worth keeping only with at least 99 % agreement and at most 0.3 points of accuracy
lost; the last column says whether it passed.

    python benchmarks/bench_precision.py [--model DIR|NAME] [--ferplus ROOT] [--calibration 512] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from pcnn_fer import load_model
from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.images import load_image
from pcnn_fer.data.preprocessing import Preprocessing
from pcnn_fer.data.sample import SampleSet
from pcnn_fer.data.transforms import eval_transform
from pcnn_fer.inference.onnx import INPUT_NAME, OnnxModel, export_onnx
from pcnn_fer.models.optimize import optimize_for_inference

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MIN_AGREEMENT, MAX_LOSS = 0.99, 0.003


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model directory or shipped name (default: the shipped default model)")
    parser.add_argument("--ferplus", type=Path, default=SHARED_DATA / "ferplus", help="FERPlus root")
    parser.add_argument("--calibration", type=int, default=512, help="FERPlus Valid faces int8 is calibrated on")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    return parser.parse_args()


def tensors(samples: SampleSet, preprocessing: Preprocessing, limit: int | None = None) -> tuple[torch.Tensor,
                                                                                              np.ndarray]:
    """The samples (in key order, the first `limit`) through the evaluation transform, and their labels."""
    transform = eval_transform(preprocessing)
    ordered = sorted(samples, key=lambda sample: sample.key)[:limit]
    images = torch.stack([transform(load_image(sample.source)) for sample in ordered])
    return images, np.array([sample.hard_label for sample in ordered])


def quantize_int8(source: Path, target: Path, calibration: torch.Tensor) -> Path:
    """Static int8 quantisation (QDQ, per-channel weights) with activation ranges measured on `calibration`."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Faces(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(calibration.split(32))

        def get_next(self) -> dict | None:
            batch = next(self.batches, None)
            return None if batch is None else {INPUT_NAME: batch.numpy()}

    prepared = target.with_suffix(".prepared.onnx")
    quant_pre_process(str(source), str(prepared))
    quantize_static(str(prepared), str(target), Faces(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    return target


def logits_of(forward: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, batch: int) -> np.ndarray:
    return np.concatenate([forward(chunk).float().numpy() for chunk in images.split(batch)])


def ms_per_face(forward: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, batch: int,
                repeats: int) -> float:
    chunk = images[:batch]
    for _ in range(3):
        forward(chunk)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        forward(chunk)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times) / len(chunk)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    preprocessing = Preprocessing.of(model.config)
    data = load_dataset("ferplus", args.ferplus)
    calibration, _ = tensors(data.where(split="val"), preprocessing, args.calibration)
    test, labels = tensors(data.where(split="test"), preprocessing)
    fast = optimize_for_inference(model)

    def torch_float32(images: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return fast(images.contiguous(memory_format=torch.channels_last)).logits

    def torch_bfloat16(images: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            return fast(images.contiguous(memory_format=torch.channels_last)).logits

    with tempfile.TemporaryDirectory() as folder:
        exported = export_onnx(model, Path(folder) / "model.onnx")
        int8 = quantize_int8(exported, Path(folder) / "model.int8.onnx", calibration)
        sessions = {"onnxruntime float32": OnnxModel(exported, threads=args.threads),
                    "onnxruntime int8 (static)": OnnxModel(int8, threads=args.threads)}
        contenders = {"torch float32": torch_float32, "torch bfloat16 (autocast)": torch_bfloat16,
                      **{name: (lambda images, s=session: s(images).logits) for name, session in sessions.items()}}
        print(f"FERPlus Test: {len(labels)} faces; int8 calibrated on {len(calibration)} FERPlus Valid faces; "
              f"threads {args.threads}; CPU bf16: {torch.backends.mkldnn.is_available()} (oneDNN)")
        print(f"| precision | agreement with float32 | accuracy | change | ms/face batch 1 | ms/face batch "
              f"{args.batch_size} | kept |")
        print("|---|---|---|---|---|---|---|")
        reference = logits_of(torch_float32, test, args.batch_size).argmax(axis=1)
        base = (reference == labels).mean()
        for name, forward in contenders.items():
            top = logits_of(forward, test, args.batch_size).argmax(axis=1)
            agreement, accuracy = (top == reference).mean(), (top == labels).mean()
            kept = agreement >= MIN_AGREEMENT and base - accuracy <= MAX_LOSS
            print(f"| {name} | {100 * agreement:.2f} % | {100 * accuracy:.2f} % | {100 * (accuracy - base):+.2f} | "
                  f"{ms_per_face(forward, test, 1, 100):.2f} | {ms_per_face(forward, test, args.batch_size, 20):.3f} | "
                  f"{'yes' if kept else 'no'} |")


if __name__ == "__main__":
    main()
