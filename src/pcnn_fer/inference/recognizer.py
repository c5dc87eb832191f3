"""Recognizer: photo in, one record per face out (detect -> align -> PCNN), batched across images.

A face given by the caller (boxes, or an image that is already an aligned crop) skips detection.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pcnn_fer.data.images import DEFAULT_MAX_PIXELS, ImageError, load_image
from pcnn_fer.devices import resolve_device
from pcnn_fer.faces.detect import Detection, Detector, GivenFaces, create_detector
from pcnn_fer.faces.framing import METADATA_KEY as FRAMING_KEY
from pcnn_fer.faces.framing import FaceFraming
from pcnn_fer.faces.mtcnn import MTCNN
from pcnn_fer.inference.explain import grad_cam, organ_shares
from pcnn_fer.inference.results import FaceResult
from pcnn_fer.models.optimize import optimize_for_inference
from pcnn_fer.models.pcnn import PCNN, PCNNOutput
from pcnn_fer.models.regions import ORGANS

ImageInput = str | Path | bytes | Image.Image | np.ndarray
BACKENDS = ("torch", "onnx")
ONNX_FILE = "model.onnx"

# A mirrored face swaps left and right organs: the flipped image's left-eye crop is the original's right eye.
MIRRORED_ORGANS = [ORGANS.index(o.replace("left_", "@").replace("right_", "left_").replace("@", "right_"))
                   for o in ORGANS]


@dataclass
class _Face:
    """One face on its way through the pipeline; `slot` is its image's position in the batch."""

    slot: int
    input: str
    index: int
    detection: Detection
    crop: np.ndarray
    matrix: np.ndarray


class Recognizer:
    """Detect, align and recognise the expressions of every face in an image.

    `model` is a PCNN (the torch model; Grad-CAM needs it), `backend` chooses who runs the forward pass
    ("torch", or "onnx" for an onnxruntime copy). `detector` is a Detector, a detector name ("mtcnn",
    "haar") or None / "none" when every image is already a face crop. Faces without landmarks (given boxes,
    detectors without eyes) are cut as squares around their box widened by `box_margin` on each side.
    `min_score` drops detections scored below it (mtcnn scores are probabilities; haar scores neighbour
    counts). `flip_tta` averages the probabilities of each face and its mirror image. `timings` accumulates
    seconds per stage (decode, detect, align, model, explain) for benchmarks. `threads` sets the model's CPU
    threads (onnxruntime's session, or torch's process-wide count).

    Faces are cut as the model's metadata says (`framing`: landmark template, grey or colour, working
    resolution), and probabilities are softmax(logits / T) with the calibration temperature T of its metadata;
    `framing` and `temperature` override them.
    """

    def __init__(self, model: PCNN, detector: Detector | str | None = "mtcnn", *, backend: str = "torch",
                 onnx_model: Callable[[torch.Tensor], PCNNOutput] | None = None, device: str | torch.device = "cpu",
                 flip_tta: bool = False, framing: FaceFraming | None = None, box_margin: float = 0.1,
                 batch_size: int = 32, max_pixels: int = DEFAULT_MAX_PIXELS, threads: int | None = None,
                 min_score: float | None = None, temperature: float | None = None) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.config = model.config
        self.backend = backend
        if backend == "onnx":
            if onnx_model is None:
                from pcnn_fer.inference.onnx import onnx_model_of

                onnx_model = onnx_model_of(model, threads=threads)
            self._forward = onnx_model
        else:
            if threads is not None:
                torch.set_num_threads(threads)  # process-wide: torch has no per-model thread count
            # BatchNorm folded and channels-last: the same outputs up to float rounding, much faster on CPUs.
            self._forward = optimize_for_inference(self.model)
        if (min_score is not None and (detector == "mtcnn" or isinstance(detector, MTCNN))
                and not 0 <= min_score <= 1):
            raise ValueError(f"min_score {min_score}: MTCNN scores faces with probabilities, so it must lie in [0, 1] "
                             f"(e.g. 0.95)")
        self.detector = self._make_detector(detector)
        metadata = getattr(model, "metadata", {})
        self.framing = framing or (FaceFraming.from_dict(metadata[FRAMING_KEY]) if FRAMING_KEY in metadata
                                   else FaceFraming())
        self.temperature = float(temperature if temperature is not None
                                 else metadata.get("calibration", {}).get("temperature", 1.0))
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        # Without a detector, images (and boxes given with them) are taken as face crops: no margin is added.
        self.box_margin = 0.0 if detector is None or detector == "none" else box_margin
        self.flip_tta = flip_tta
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        self.min_score = min_score
        self.timings: Counter[str] = Counter()
        self._mean = torch.tensor(self.config.mean).view(1, 3, 1, 1)
        self._std = torch.tensor(self.config.std).view(1, 3, 1, 1)

    @classmethod
    def from_pretrained(cls, model: str | Path | None = None, detector: Detector | str | None = "mtcnn", *,
                        backend: str = "torch", device: str | torch.device = "cpu", flip_tta: bool = False,
                        **options) -> Recognizer:
        """A Recognizer for a model directory (config.json + model.safetensors), a training run's directory (its
        selected model) or a shipped model's name; None takes the default shipped model (see `pcnn-fer models`).

        With backend="onnx", the directory's model.onnx is used when present (see `pcnn-fer export`),
        else the model is exported in memory.
        """
        from pcnn_fer.engine.checkpoint import model_of
        from pcnn_fer.weights.pretrained import model_directory
        from pcnn_fer.weights.store import load_model

        path = model_of(model_directory(model))
        model = load_model(path, device=device)
        onnx_model = None
        onnx_file = Path(path) / ONNX_FILE
        if backend == "onnx" and onnx_file.is_file():
            from pcnn_fer.inference.onnx import OnnxModel

            onnx_model = OnnxModel(onnx_file, threads=options.get("threads"))
            if onnx_model.config != model.config:
                raise ValueError(f"{onnx_file} was exported from a different model than {Path(path)}'s config.json; "
                                 f"export it again with `pcnn-fer export`")
        return cls(model, detector, backend=backend, onnx_model=onnx_model, device=device, flip_tta=flip_tta,
                   **options)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.config.class_names

    def predict(self, image: ImageInput, *, color_order: str = "rgb", boxes: Sequence[Sequence[float]] | None = None,
                explain: bool = False, name: str | None = None) -> list[FaceResult]:
        """The faces of one image (a path, encoded bytes, PIL image or array in `color_order`), surest first.

        `boxes` (x0, y0, x1, y1) skip detection. An unreadable image raises ImageError, a detector failure
        RuntimeError; an image without a face gives an empty list.
        """
        name = name or _name_of(image, 0)
        decoded = self._decode(image, color_order, name)
        detector = GivenFaces(boxes) if boxes is not None else self.detector
        faces = self._recognize([name], [decoded], detector, explain)[0]
        if faces and faces[0].status == "error":
            raise RuntimeError(faces[0].error)
        return faces

    def predict_batch(self, images: Sequence[ImageInput], *, color_order: str = "rgb", explain: bool = False,
                      names: Sequence[str] | None = None) -> list[list[FaceResult]]:
        """The faces of each image, batching detection and the model across images.

        An image that cannot be read yields one record carrying its error instead of faces; an image
        without a face yields an empty list. The batch goes on either way.
        """
        names = _names_of(images, names)
        loaded = self.decode_each(images, color_order=color_order, names=names)
        readable = [i for i, item in enumerate(loaded) if isinstance(item, np.ndarray)]
        results = [[] if isinstance(item, np.ndarray) else [item] for item in loaded]
        found = self._recognize([names[i] for i in readable], [loaded[i] for i in readable], self.detector, explain)
        for i, faces in zip(readable, found):
            results[i] = faces
        return results

    def decode_each(self, images: Sequence[ImageInput], *, color_order: str = "rgb",
                    names: Sequence[str] | None = None) -> list[np.ndarray | FaceResult]:
        """Each image as RGB uint8 pixels, or, when it cannot be read, the error record predict_batch gives it.

        For callers that need the pixels too (to draw on them): decode once here, then pass the arrays, with
        their names, to predict_batch.
        """
        loaded: list[np.ndarray | FaceResult] = []
        for image, name in zip(images, _names_of(images, names)):
            try:
                loaded.append(self._decode(image, color_order, name))
            except (ImageError, OSError) as error:
                loaded.append(FaceResult(input=name, error=str(error)))
        return loaded

    def _decode(self, image: ImageInput, color_order: str, name: str) -> np.ndarray:
        start = time.perf_counter()
        try:
            return load_image(image, color_order=color_order, max_pixels=self.max_pixels)
        except ImageError as error:
            message = str(error)
            raise ImageError(message if message.startswith(name) else f"{name}: {message}") from None
        finally:
            self.timings["decode"] += time.perf_counter() - start

    def _recognize(self, names: list[str], images: list[np.ndarray], detector: Detector,
                   explain: bool) -> list[list[FaceResult]]:
        if not images:
            return []
        start = time.perf_counter()
        detections = self._detect(detector, images)
        self.timings["detect"] += time.perf_counter() - start
        start = time.perf_counter()
        results: list[list[FaceResult]] = [[] for _ in images]
        faces = []
        for slot, (name, image, found) in enumerate(zip(names, images, detections)):
            if isinstance(found, str):
                results[slot] = [FaceResult(input=name, error=f"{name}: face detection failed ({found})")]
                continue
            if self.min_score is not None:
                found = [detection for detection in found if detection.score >= self.min_score]
            for index, detection in enumerate(found):
                crop, matrix = self.framing.cut(image, detection, self.config.input_size, self.box_margin)
                faces.append(_Face(slot, name, index, detection, crop, matrix))
        self.timings["align"] += time.perf_counter() - start
        for first in range(0, len(faces), self.batch_size):
            chunk = faces[first:first + self.batch_size]
            for face, record in zip(chunk, self._classify(chunk, explain)):
                results[face.slot].append(record)
        return results

    @staticmethod
    def _detect(detector: Detector, images: list[np.ndarray]) -> list[list[Detection] | str]:
        """Detections per image; when the batch fails, each image alone, so one bad image costs only itself."""
        try:
            return detector.detect_batch(images)
        except (RuntimeError, ValueError) as batch_error:
            if len(images) == 1:
                return [str(batch_error)]
        found: list[list[Detection] | str] = []
        for image in images:
            try:
                found.append(detector.detect(image))
            except (RuntimeError, ValueError) as error:
                found.append(str(error))
        return found

    def _classify(self, faces: list[_Face], explain: bool) -> list[FaceResult]:
        start = time.perf_counter()
        batch = self.to_tensor([face.crop for face in faces])
        probabilities, organ_probabilities = self._probabilities(batch)
        labels = probabilities.argmax(axis=1)
        shares = organ_shares(organ_probabilities, labels) if organ_probabilities is not None else None
        self.timings["model"] += time.perf_counter() - start
        heatmaps = [None] * len(faces)
        if explain:
            start = time.perf_counter()
            heatmaps = list(grad_cam(self.model, batch.to(self.device), labels))
            self.timings["explain"] += time.perf_counter() - start
        names = self.class_names
        finite = np.isfinite(probabilities).all(axis=1)
        records = []
        for i, face in enumerate(faces):
            detection = face.detection
            if not finite[i]:
                message = (f"{face.input}: face {face.index}: the model's output is not finite (NaN or inf); its "
                           f"weights may be corrupted")
                records.append(FaceResult(input=face.input, error=message))
                continue
            records.append(FaceResult(
                input=face.input, face=face.index, box=detection.box,
                landmarks=None if detection.landmarks is None else tuple(map(tuple, detection.landmarks.tolist())),
                score=detection.score, label=names[labels[i]],
                probabilities=dict(zip(names, probabilities[i].tolist())),
                organ_contributions={} if shares is None else dict(zip(ORGANS, shares[i].tolist())),
                heatmap=heatmaps[i], matrix=face.matrix))
        return records

    def to_tensor(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        """RGB uint8 crops of the model's input size -> the normalised (N, 3, S, S) float batch it expects."""
        size = self.config.input_size
        for crop in crops:
            if crop.shape != (size, size, 3):
                raise ValueError(f"face crops must be {size}x{size}x3 (the model's input_size), got {crop.shape}")
        batch = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div_(255.0)
        return (batch - self._mean) / self._std

    def _probabilities(self, batch: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """Class probabilities (N, C) and organ probabilities (N, 5, C), averaged with the mirror under flip TTA."""
        views = [batch, batch.flip(-1)] if self.flip_tta else [batch]
        probabilities, organ_probabilities = [], []
        with torch.inference_mode():
            for view_index, view in enumerate(views):
                output = self._forward(view.to(self.device))
                probabilities.append((output.logits.float() / self.temperature).softmax(-1).cpu())
                if output.per_organ_logits is not None:
                    organs = output.per_organ_logits.float().softmax(-1).cpu()
                    organ_probabilities.append(organs[:, MIRRORED_ORGANS] if view_index == 1 else organs)
        mean_organs = torch.stack(organ_probabilities).mean(0).numpy() if organ_probabilities else None
        return torch.stack(probabilities).mean(0).numpy(), mean_organs

    def _make_detector(self, detector: Detector | str | None) -> Detector:
        if detector is None or detector == "none":
            return GivenFaces()
        if isinstance(detector, str):
            return create_detector(detector, device=self.device) if detector == "mtcnn" else create_detector(detector)
        return detector


def _names_of(images: Sequence[ImageInput], names: Sequence[str] | None) -> list[str]:
    """The given names (one per image), else each image's file name or its position."""
    if names is None:
        return [_name_of(image, i) for i, image in enumerate(images)]
    if len(names) != len(images):
        raise ValueError(f"{len(names)} names for {len(images)} images")
    return list(names)


def _name_of(image: ImageInput, index: int) -> str:
    if isinstance(image, str | Path):
        return str(image)
    filename = getattr(image, "filename", "")
    return filename or f"<image {index}>"
