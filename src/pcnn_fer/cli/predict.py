"""`pcnn-fer predict PATH... [--model DIR|NAME]`: expressions of every face in photos, folders, globs and videos.

One output record per face (JSON lines or CSV); an input without a face, or one that fails, gets one
record saying so and the run goes on. The exit status is non-zero only when no input could be processed.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

import numpy as np

from pcnn_fer.data.images import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES
from pcnn_fer.models.regions import ORGANS
from pcnn_fer.progress import progress


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict", help="facial expressions in photos and videos",
        description="Detect, align and recognise every face in the given photos and videos. Paths may be "
                    "files, folders (searched recursively for images and videos) or glob patterns.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image, video, folder or glob pattern")
    parser.add_argument("--model", metavar="DIR|NAME",
                        help="model directory (config.json + model.safetensors) or a shipped model's name "
                             "(default: the shipped default model; see `pcnn-fer models`)")
    parser.add_argument("--detector", choices=["mtcnn", "haar", "none"], default="mtcnn",
                        help="face detector; 'none' takes each image as an aligned face crop (default: mtcnn)")
    parser.add_argument("--min-score", type=float, default=None, metavar="S",
                        help="drop detections scored below S (mtcnn: face probability, e.g. 0.9)")
    parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="output format (default: jsonl)")
    parser.add_argument("--output", metavar="FILE", help="write records here instead of standard output")
    parser.add_argument("--annotate", metavar="OUTDIR", help="write annotated images / mp4 videos into OUTDIR")
    parser.add_argument("--explain", action="store_true", help="overlay Grad-CAM heat maps in the annotated output")
    parser.add_argument("--every", type=int, default=1, metavar="N",
                        help="videos: process every Nth frame (default: 1)")
    parser.add_argument("--smooth", type=float, nargs="?", const=0.5, default=None, metavar="ALPHA",
                        help="videos: smooth each tracked face's probabilities over time; ALPHA is the weight "
                             "of the newest frame (default when given: 0.5)")
    parser.add_argument("--backend", choices=["torch", "onnx"], default="torch",
                        help="who runs the model: torch or onnxruntime (default: torch)")
    parser.add_argument("--flip-tta", action="store_true", help="average each face with its mirror image")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                        help=f"refuse images larger than N pixels (default: {DEFAULT_MAX_PIXELS:,})")
    parser.add_argument("--batch-size", type=int, default=8, metavar="N",
                        help="images (or video frames) per batch (default: 8)")
    parser.add_argument("--device", default="cpu", help="torch device: auto, cpu, cuda, cuda:N (default: cpu)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="CPU threads for the model (default: as many as the machine has cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pcnn_fer.inference.recognizer import Recognizer

    if args.explain and not args.annotate:
        raise ValueError("--explain draws heat maps into the annotated output: give --annotate OUTDIR too")
    if args.every < 1 or args.batch_size < 1 or (args.threads is not None and args.threads < 1):
        raise ValueError("--every, --batch-size and --threads must be at least 1")
    if args.smooth is not None and not 0 < args.smooth <= 1:
        raise ValueError(f"--smooth ALPHA must lie in (0, 1], got {args.smooth}")
    inputs = expand_inputs(args.paths)
    if not inputs:
        print("pcnn-fer predict: no images or videos found in the given paths", file=sys.stderr)
        return 1
    recognizer = Recognizer.from_pretrained(
        args.model, detector=None if args.detector == "none" else args.detector, backend=args.backend,
        device=args.device, flip_tta=args.flip_tta, max_pixels=args.max_pixels, min_score=args.min_score,
        threads=args.threads)
    stream = open(args.output, "w", newline="") if args.output else sys.stdout
    try:
        writer = RecordWriter(stream, args.format, recognizer.class_names)
        annotator = Annotator(Path(args.annotate), args.explain) if args.annotate else None
        summary = _predict_all(recognizer, inputs, writer, annotator, args)
    finally:
        if args.output:
            stream.close()
    if not args.quiet:
        print(f"pcnn-fer predict: {len(inputs)} input(s): {summary['ok']} processed, {summary['error']} failed, "
              f"{summary['faces']} face record(s)", file=sys.stderr)
    return 0 if summary["ok"] else 1


def _predict_all(recognizer, inputs: list[str], writer: RecordWriter, annotator: Annotator | None,
                 args: argparse.Namespace) -> dict[str, int]:
    from pcnn_fer.inference.video import is_video

    summary = {"ok": 0, "error": 0, "faces": 0}
    bar = progress(None, len(inputs), enabled=not args.quiet, unit="input")
    explain = annotator is not None and annotator.explain
    pending: list[str] = []

    def flush() -> None:
        # Each image is decoded once: the same pixels go to the recognizer and to the annotator.
        loaded = recognizer.decode_each(pending, names=pending)
        readable = [i for i, item in enumerate(loaded) if isinstance(item, np.ndarray)]
        found = iter(recognizer.predict_batch([loaded[i] for i in readable], names=[pending[i] for i in readable],
                                              explain=explain))
        for path, item in zip(pending, loaded):
            faces = next(found) if isinstance(item, np.ndarray) else [item]
            _tally(summary, writer.write_input(path, faces))
            if annotator is not None and not (faces and faces[0].status == "error"):
                annotator.image(path, item, faces)
            bar.update(1)
        pending.clear()

    # Consecutive images are batched together; output follows the order of the inputs.
    for path in inputs:
        if not is_video(path):
            pending.append(path)
            if len(pending) == args.batch_size:
                flush()
            continue
        flush()
        bar.set_postfix_str(Path(path).name)
        _tally(summary, _predict_video(recognizer, path, writer, annotator, args))
        bar.update(1)
    flush()
    bar.close()
    return summary


def _predict_video(recognizer, path: str, writer: RecordWriter, annotator: Annotator | None,
                   args: argparse.Namespace) -> tuple[bool, int]:
    from pcnn_fer.inference.results import FaceResult
    from pcnn_fer.inference.video import VideoError, predict_video, video_info

    faces = written = 0
    sink = frame_bar = None
    try:
        count = video_info(path).frame_count
        frame_bar = progress(None, -(-count // args.every) if count else None, Path(path).name,
                             enabled=not args.quiet, unit="frame")
        frames = predict_video(recognizer, path, every=args.every, batch_frames=args.batch_size,
                               smoothing=args.smooth, explain=annotator is not None and annotator.explain,
                               keep_frames=annotator is not None)
        for frame in frames:
            if frame.faces:
                faces += sum(record.status == "face" for record in frame.faces)
                written += len(frame.faces)
                writer.write(frame.faces)
            if annotator is not None:
                if sink is None:
                    sink = annotator.video(path, video_info(path).fps / args.every, frame.image.shape)
                sink.write(frame.image, frame.faces)
            frame_bar.update(1)
    except (VideoError, OSError, ValueError) as error:
        return writer.write_input(path, [FaceResult(input=path, error=str(error))])
    finally:
        if frame_bar is not None:
            frame_bar.close()
        if sink is not None:
            sink.close()
    if not written:
        writer.write([FaceResult(input=path)])
    return True, faces


def _tally(summary: dict[str, int], outcome: tuple[bool, int]) -> None:
    ok, faces = outcome
    summary["ok" if ok else "error"] += 1
    summary["faces"] += faces


def expand_inputs(paths: Iterable[str]) -> list[str]:
    """Files as given, folders searched recursively for images and videos, globs expanded (sorted).

    A path that names nothing and matches nothing is kept, so that it is reported as a failed input.
    """
    from pcnn_fer.inference.video import VIDEO_SUFFIXES

    media = IMAGE_SUFFIXES + VIDEO_SUFFIXES
    found: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += [str(p) for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in media]
        elif not path.exists() and glob.has_magic(raw):
            found += sorted(p for p in glob.glob(raw, recursive=True) if Path(p).is_file()) or [raw]
        else:
            found.append(raw)
    return list(dict.fromkeys(found))


class RecordWriter:
    """Face records as JSON lines or CSV rows (probabilities and organ shares one column each)."""

    def __init__(self, stream: TextIO, fmt: str, class_names: Iterable[str]) -> None:
        self.stream = stream
        self.class_names = list(class_names)
        self._csv = None
        if fmt == "csv":
            columns = (["input", "frame", "time", "track", "status", "error", "face", "x0", "y0", "x1", "y1", "score"]
                       + [f"landmark{i}_{axis}" for i in range(5) for axis in "xy"] + ["label"]
                       + [f"p_{name}" for name in self.class_names] + [f"organ_{name}" for name in ORGANS])
            self._csv = csv.DictWriter(stream, fieldnames=columns, extrasaction="raise")
            self._csv.writeheader()

    def write_input(self, path: str, faces: list) -> tuple[bool, int]:
        """Write an image's records (one 'no_face' record when it has none); (processed ok, face count)."""
        from pcnn_fer.inference.results import FaceResult

        self.write(faces or [FaceResult(input=path)])
        failed = bool(faces) and faces[0].status == "error"
        return not failed, 0 if failed else len(faces)

    def write(self, faces: list) -> None:
        for face in faces:
            record = face.to_dict()
            if self._csv is None:
                self.stream.write(json.dumps(record) + "\n")
            else:
                self._csv.writerow(self._row(record))
        self.stream.flush()

    def _row(self, record: dict) -> dict:
        row = {key: record.get(key) for key in ("input", "frame", "time", "track", "status", "error", "face",
                                                "score", "label")}
        if record.get("box"):
            row.update(zip(("x0", "y0", "x1", "y1"), record["box"]))
        for i, point in enumerate(record.get("landmarks") or []):
            if point is not None:
                row[f"landmark{i}_x"], row[f"landmark{i}_y"] = point
        row.update({f"p_{k}": v for k, v in record.get("probabilities", {}).items()})
        row.update({f"organ_{k}": v for k, v in record.get("organ_contributions", {}).items()})
        return row


class Annotator:
    """Writes annotated copies of the inputs into one folder: images as images, videos as mp4."""

    def __init__(self, folder: Path, explain: bool) -> None:
        self.folder = folder
        self.explain = explain
        self._used: set[str] = set()
        folder.mkdir(parents=True, exist_ok=True)

    def image(self, path: str, image: np.ndarray, faces: list) -> Path:
        """Draw `faces` on the decoded RGB `image` of `path` and save it as OUTDIR/<stem>."""
        from PIL import Image

        from pcnn_fer.inference.draw import annotate

        suffix = Path(path).suffix.lower()
        target = self._target(path, suffix if suffix in (".jpg", ".jpeg", ".png", ".bmp", ".webp") else ".png")
        drawn = annotate(image, faces, explain=self.explain)
        Image.fromarray(drawn).save(target)
        return target

    def video(self, path: str, fps: float, shape: tuple[int, ...]) -> _VideoSink:
        return _VideoSink(self._target(path, ".mp4"), fps if fps > 0 else 25.0, shape, self.explain)

    def _target(self, path: str, suffix: str) -> Path:
        """OUTDIR/<stem><suffix>, numbered when two inputs share a stem."""
        stem, number = Path(path).stem, 1
        name = f"{stem}{suffix}"
        while name in self._used:
            number += 1
            name = f"{stem}-{number}{suffix}"
        self._used.add(name)
        return self.folder / name


class _VideoSink:
    def __init__(self, target: Path, fps: float, shape: tuple[int, ...], explain: bool) -> None:
        import cv2

        self.target = target
        self.explain = explain
        self._writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, (shape[1], shape[0]))
        if not self._writer.isOpened():
            raise OSError(f"{target}: cannot open an mp4 writer")

    def write(self, image, faces: list) -> None:
        import cv2

        from pcnn_fer.inference.draw import annotate

        self._writer.write(cv2.cvtColor(annotate(image, faces, explain=self.explain), cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        self._writer.release()
