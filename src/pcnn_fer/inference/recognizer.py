"""Recognizer: photo in, one record per face out (detect -> align -> PCNN), batched across images.

A face given by the caller (boxes, or an image that is already an aligned crop) skips detection.
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pcnn_fer.data.images import DEFAULT_MAX_PIXELS, ImageError, load_image
from pcnn_fer.data.preprocessing import Preprocessing
from pcnn_fer.devices import resolve_device
from pcnn_fer.faces.auto import FirstThatFinds
from pcnn_fer.faces.detect import Detection, Detector, GivenFaces
from pcnn_fer.faces.framing import FaceFraming
from pcnn_fer.faces.mtcnn import MTCNN
from pcnn_fer.faces.registry import DEFAULT_DETECTOR, NO_DETECTOR, create_detector
from pcnn_fer.inference.backends import BACKEND_CHOICES
from pcnn_fer.inference.explain import grad_cam, organ_shares
from pcnn_fer.inference.results import FaceResult, failed, merge_back, split_readable
from pcnn_fer.models.metadata import ModelMetadata
from pcnn_fer.models.optimize import optimize_for_inference
from pcnn_fer.models.organs import ORGANS
from pcnn_fer.models.pcnn import PCNN, PCNNOutput
from pcnn_fer.models.tta import flip_tta

ImageInput = str | Path | bytes | Image.Image | np.ndarray


@dataclass
class _Call:
    """What one predict/predict_batch call asks for, and where it adds the seconds of each stage."""

    detector: Detector
    explain: bool
    flip: bool
    min_score: float | None
    timings: Counter[str]


@dataclass
class CutFace:
    """One face cut out for the model: the input it comes from, its index there, its detection, the crop in the
    model's input size and the source -> crop matrix."""

    input: str
    index: int
    detection: Detection
    crop: np.ndarray
    matrix: np.ndarray


class Recognizer:
    """Detect, align and recognise the expressions of every face in an image.

    `model` is a PCNN (the torch model; Grad-CAM needs it), `backend` chooses who runs the forward pass:
    "torch"; "onnx" for an onnxruntime copy (`onnx_model`, else exported in memory); "auto" with an `onnx_model`,
    onnxruntime for small batches and torch for large ones, whichever is faster (SmallBatchesOnOnnx), and without
    one torch. `detector` is a Detector, a detector name ("mtcnn", "haar") or None / "none" when every image is
    already a face crop. Faces without landmarks (given boxes, detectors without eyes) are cut as squares around
    their box widened by `box_margin` on each side.
    `min_score` drops detections scored below it (mtcnn scores are probabilities; haar scores neighbour
    counts). `flip_tta` averages each face with its mirror image as evaluation does (`pcnn_fer.models.tta`).
    `threads` sets onnxruntime's session threads; torch's thread count is the process's own, set once by whoever
    owns the process (`torch.set_num_threads`; the commands do it from --threads). Calls from several threads
    take turns: one call at a time uses the recognizer's detector, one the model, and each call adds its own
    seconds per stage to the `timings` Counter it is given, never to shared state. Finding faces and running the
    model are two steps (`cut_faces`, `classify`) that threads may take at the same time; a thread that detects
    with its own detector (`spare_detector`) waits for no other.

    Faces are cut as the model's metadata says (`framing`: landmark template, grey or colour, working
    resolution), and probabilities are softmax(logits / T - w * log prior) with the calibration temperature T and
    the prior correction (weight w, training class prior) of its metadata; `framing`, `temperature` and
    `prior_correction` (the weight: 0 keeps the training prior, 1 divides it out) override them. Another
    temperature changes confidences only: the correction stays the one defined at the calibration's T, so the
    predicted classes are the same. A model whose metadata records no framing is fed the default framing, with a
    warning.
    """

    def __init__(self, model: PCNN, detector: Detector | str | None = DEFAULT_DETECTOR, *, backend: str = "torch",
                 onnx_model: Callable[[torch.Tensor], PCNNOutput] | None = None, device: str | torch.device = "cpu",
                 flip_tta: bool = False, framing: FaceFraming | None = None, box_margin: float = 0.1,
                 batch_size: int = 32, max_pixels: int = DEFAULT_MAX_PIXELS, threads: int | None = None,
                 min_score: float | None = None, temperature: float | None = None,
                 prior_correction: float | None = None) -> None:
        if detector is None:
            detector = NO_DETECTOR  # the earlier spelling of "no detector", still accepted
        if backend not in BACKEND_CHOICES:
            raise ValueError(f"backend must be one of {BACKEND_CHOICES}, got {backend!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.config = model.config
        self.backend = backend
        if backend == "auto" and onnx_model is not None:
            self._forward = SmallBatchesOnOnnx(onnx_model, self.model)
        elif backend == "onnx":
            if onnx_model is None:
                from pcnn_fer.inference.onnx import onnx_model_of

                onnx_model = onnx_model_of(model, threads=threads)
            self._forward = onnx_model
        else:
            # BatchNorm folded and channels-last: the same outputs up to float rounding, much faster on CPUs.
            self._forward = optimize_for_inference(self.model)
        self.detector = self._make_detector(detector)
        self._named = (detector, self.detector) if isinstance(detector, str) else None  # what spare_detector copies
        self._check_min_score(min_score)
        self._detecting = threading.Lock()  # the recognizer's own detector serves one thread at a time
        self._turn = threading.Lock()  # and so does the model
        metadata = model.metadata
        self.framing = framing or _framing_of(metadata)
        self.temperature = float(temperature if temperature is not None else metadata.temperature)
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        self.prior_correction = float(prior_correction if prior_correction is not None else metadata.prior_weight)
        offset = metadata.logit_offset(self.prior_correction)  # at the calibration's T, whatever the one asked
        self._offset = None if offset is None else torch.tensor(offset)
        # Without a detector, images (and boxes given with them) are taken as face crops: no margin is added.
        self.box_margin = 0.0 if detector == NO_DETECTOR else box_margin
        self.flip_tta = flip_tta
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        self.min_score = min_score
        self.preprocessing = Preprocessing.of(self.config)

    @classmethod
    def from_pretrained(cls, model: str | Path | None = None, detector: Detector | str | None = DEFAULT_DETECTOR, *,
                        backend: str = "auto", device: str | torch.device = "cpu", flip_tta: bool = False,
                        export_onnx: bool = False, show_progress: bool = True, **options) -> Recognizer:
        """A Recognizer for a model directory (config.json + model.safetensors), a training run's directory (its
        selected model) or a shipped model's name; None takes the default shipped model (see `pcnn-fer models`).

        `backend` "auto" runs the model in onnxruntime where that is safe (pcnn_fer.inference.onnx.fastest_runtime:
        on the CPU, from an export of exactly these weights; a shipped model is exported once on first use, tens of
        seconds shown as progress, then kept in the cache) and in torch otherwise; "onnx" insists on onnxruntime,
        "torch" on torch. `export_onnx` exports any model that has no export, or a stale one. Grad-CAM runs in
        torch whatever the backend.
        """
        from pcnn_fer.models.resolve import resolve_model
        from pcnn_fer.models.storage import load_model

        path = resolve_model(model)
        model = load_model(path, device=device)
        onnx_model = None
        if backend == "auto":
            from pcnn_fer.inference.onnx import fastest_runtime

            onnx_model = fastest_runtime(model, path, threads=options.get("threads"), export=export_onnx,
                                         show_progress=show_progress)
        elif backend == "onnx":
            from pcnn_fer.inference.onnx import stored_onnx_model

            onnx_model = stored_onnx_model(model, path, threads=options.get("threads"), export=export_onnx,
                                           show_progress=show_progress)
        return cls(model, detector, backend=backend, onnx_model=onnx_model, device=device, flip_tta=flip_tta,
                   **options)

    @property
    def runtime(self) -> str:
        """Who runs the model's forward pass, in words."""
        forward = self._forward
        if isinstance(forward, SmallBatchesOnOnnx):
            return f"onnxruntime up to {forward.largest} faces per call, torch above"
        return "torch" if isinstance(forward, torch.nn.Module) else "onnxruntime"

    @property
    def class_names(self) -> tuple[str, ...]:
        """The model's classes, in the order of each record's probabilities."""
        return self.config.class_names

    def predict(self, image: ImageInput, *, color_order: str = "rgb", boxes: Sequence[Sequence[float]] | None = None,
                explain: bool = False, name: str | None = None, timings: Counter[str] | None = None
                ) -> list[FaceResult]:
        """The faces of one image (a path, encoded bytes, PIL image or array in `color_order`), surest first.

        `boxes` (x0, y0, x1, y1) skip detection. An unreadable image raises ImageError, a detector failure
        RuntimeError; an image without a face gives an empty list. `timings` receives this call's seconds per
        stage (decode, detect, align, model, explain).
        """
        name = name or _name_of(image, 0)
        call = self._call(GivenFaces(boxes) if boxes is not None else None, explain, None, None, timings)
        decoded = self._decode(image, color_order, name, call.timings)
        faces = self._recognize([name], [decoded], call)[0]
        if failed(faces):
            raise RuntimeError(faces[0].error)
        return faces

    def predict_batch(self, images: Sequence[ImageInput | FaceResult], *, color_order: str = "rgb",
                      explain: bool = False, names: Sequence[str] | None = None, detector: Detector | None = None,
                      flip_tta: bool | None = None, min_score: float | None = None,
                      timings: Counter[str] | None = None) -> list[list[FaceResult]]:
        """The faces of each image, batching detection and the model across images.

        An image that cannot be read yields one record carrying its error instead of faces; an image
        without a face yields an empty list. The batch goes on either way. `detector` replaces the
        recognizer's own for this call (a video's FaceFollower, say), `flip_tta` and `min_score` its settings;
        `timings` receives this call's seconds per stage.
        """
        names = _names_of(images, names)
        call = self._call(detector, explain, flip_tta, min_score, timings)
        loaded = self.decode_each(images, color_order=color_order, names=names, timings=call.timings)
        positions, pixels = split_readable(loaded, _is_pixels)
        found = self._recognize([names[i] for i in positions], pixels, call)
        return merge_back([[] if _is_pixels(item) else [item] for item in loaded], positions, found)

    def _call(self, detector: Detector | None, explain: bool, flip_tta: bool | None, min_score: float | None,
              timings: Counter[str] | None) -> _Call:
        if min_score is not None:
            self._check_min_score(min_score)
        return _Call(detector or self.detector, explain, self.flip_tta if flip_tta is None else flip_tta,
                     self.min_score if min_score is None else min_score,
                     timings if timings is not None else Counter())

    def _check_min_score(self, min_score: float | None) -> None:
        scores_probabilities = (isinstance(self.detector, (MTCNN, FirstThatFinds))
                                or getattr(self.detector, "name", None) == "blazeface")
        if min_score is not None and scores_probabilities and not 0 <= min_score <= 1:
            raise ValueError(f"min_score {min_score}: {self.detector.name} scores faces with probabilities, so it must "
                             f"lie in [0, 1] (e.g. 0.9)")

    def decode_each(self, images: Sequence[ImageInput | FaceResult], *, color_order: str = "rgb",
                    names: Sequence[str] | None = None,
                    timings: Counter[str] | None = None) -> list[np.ndarray | FaceResult]:
        """Each image as RGB uint8 pixels, or, when it cannot be read, the error record predict_batch gives it.

        For callers that need the pixels too (to draw on them): decode once here, then pass what it gives, with
        the names, to predict_batch; the error records pass through it unchanged.
        """
        loaded: list[np.ndarray | FaceResult] = []
        for image, name in zip(images, _names_of(images, names)):
            if isinstance(image, FaceResult):
                loaded.append(image)
                continue
            try:
                loaded.append(self._decode(image, color_order, name, timings))
            except (ImageError, OSError) as error:
                loaded.append(FaceResult.failure(name, str(error)))
        return loaded

    def _decode(self, image: ImageInput, color_order: str, name: str,
                timings: Counter[str] | None = None) -> np.ndarray:
        start = time.perf_counter()
        try:
            return load_image(image, color_order=color_order, max_pixels=self.max_pixels)
        except ImageError as error:
            message = str(error)
            raise type(error)(message if message.startswith(name) else f"{name}: {message}") from error
        finally:
            if timings is not None:
                timings["decode"] += time.perf_counter() - start

    def cut_faces(self, image: np.ndarray, name: str, *, detector: Detector | None = None,
                  min_score: float | None = None, timings: Counter[str] | None = None) -> list[CutFace] | FaceResult:
        """The faces of one decoded RGB image, found and cut for the model, surest first; or, when detection fails,
        the error record `predict_batch` gives such an image. `detector` (e.g. one from `spare_detector`, owned by
        the calling thread) replaces the recognizer's own, which serves one thread at a time."""
        call = self._call(detector, False, None, min_score, timings)
        (found,) = self._find([name], [image], call)
        return found

    def classify(self, faces: Sequence[CutFace], *, explain: bool = False, flip_tta: bool | None = None,
                 timings: Counter[str] | None = None) -> list[FaceResult]:
        """One record per cut face, in order, the model run on batches of up to `batch_size` faces (one call at a
        time runs the model)."""
        call = self._call(None, explain, flip_tta, None, timings)
        with self._turn:
            return self._classify_all(list(faces), call)

    def spare_detector(self) -> Detector | None:
        """A new instance of the recognizer's detector, for a thread that detects while others do; None when the
        detector is an object given by the caller rather than one made from a name (it cannot be copied)."""
        if self._named is None or self._named[1] is not self.detector:
            return None
        return self._make_detector(self._named[0])

    def _recognize(self, names: list[str], images: list[np.ndarray], call: _Call) -> list[list[FaceResult]]:
        if not images:
            return []
        found = self._find(names, images, call)
        faces = [face for item in found if not isinstance(item, FaceResult) for face in item]
        with self._turn:
            records = iter(self._classify_all(faces, call))
        return [[item] if isinstance(item, FaceResult) else [next(records) for _ in item] for item in found]

    def _find(self, names: list[str], images: list[np.ndarray], call: _Call) -> list[list[CutFace] | FaceResult]:
        """Detect (batched across the images) and cut each image's faces; an error record where detection failed."""
        timings = call.timings
        start = time.perf_counter()
        shared = self._detecting if call.detector is self.detector else contextlib.nullcontext()
        with shared:
            detections = self._detect(call.detector, images)
        timings["detect"] += time.perf_counter() - start
        start = time.perf_counter()
        found: list[list[CutFace] | FaceResult] = []
        for name, image, detected in zip(names, images, detections):
            if isinstance(detected, str):
                found.append(FaceResult.failure(name, f"{name}: face detection failed ({detected})"))
                continue
            if call.min_score is not None:  # dropped before the model, which never sees them
                detected = [detection for detection in detected if detection.score >= call.min_score]
            faces = []
            for index, detection in enumerate(detected):
                crop, matrix = self.framing.cut(image, detection, self.config.input_size, self.box_margin)
                faces.append(CutFace(name, index, detection, crop, matrix))
            found.append(faces)
        timings["align"] += time.perf_counter() - start
        return found

    def _classify_all(self, faces: list[CutFace], call: _Call) -> list[FaceResult]:
        records: list[FaceResult] = []
        for first in range(0, len(faces), self.batch_size):
            records += self._classify(faces[first:first + self.batch_size], call)
        return records

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

    def _classify(self, faces: list[CutFace], call: _Call) -> list[FaceResult]:
        start = time.perf_counter()
        batch = self.to_tensor([face.crop for face in faces])
        probabilities, organ_probabilities = self._probabilities(batch, call.flip)
        labels = probabilities.argmax(axis=1)
        shares = organ_shares(organ_probabilities, labels) if organ_probabilities is not None else None
        call.timings["model"] += time.perf_counter() - start
        heatmaps = [None] * len(faces)
        if call.explain:
            start = time.perf_counter()
            heatmaps = list(grad_cam(self.model, batch.to(self.device), labels))
            call.timings["explain"] += time.perf_counter() - start
        names = self.class_names
        finite = np.isfinite(probabilities).all(axis=1)
        records = []
        for i, face in enumerate(faces):
            detection = face.detection
            if not finite[i]:
                message = (f"{face.input}: face {face.index}: the model's output is not finite (NaN or inf); its "
                           f"weights may be corrupted")
                records.append(FaceResult.failure(face.input, message))
                continue
            records.append(FaceResult(
                input=face.input, face=face.index, box=detection.box,
                landmarks=None if detection.landmarks is None else tuple(map(tuple, detection.landmarks.tolist())),
                detection_score=detection.score, label=names[labels[i]],
                probabilities=dict(zip(names, probabilities[i].tolist())),
                organ_contributions={} if shares is None else dict(zip(ORGANS, shares[i].tolist())),
                heatmap=heatmaps[i], matrix=face.matrix))
        return records

    def to_tensor(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        """RGB uint8 crops of the model's input size -> the normalised (N, 3, S, S) float batch it expects."""
        return self.preprocessing.to_batch(crops)

    def _probabilities(self, batch: torch.Tensor, flip: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Class probabilities (N, C) and organ probabilities (N, 5, C); under flip TTA of the averaged logits."""
        with torch.inference_mode():
            batch = batch.to(self.device)
            output = flip_tta(self._forward, batch) if flip else self._forward(batch)
        logits = output.logits.float().cpu()
        logits = logits if self._offset is None else logits + self._offset
        probabilities = (logits / self.temperature).softmax(-1).numpy()
        if output.per_organ_logits is None:
            return probabilities, None
        return probabilities, output.per_organ_logits.float().softmax(-1).cpu().numpy()

    def _make_detector(self, detector: Detector | str) -> Detector:
        if not isinstance(detector, str):
            return detector
        on_device = detector in ("mtcnn", "auto")  # MTCNN (auto's second opinion too) runs on the model's device
        return create_detector(detector, device=self.device) if on_device else create_detector(detector)


class SmallBatchesOnOnnx:
    """The model's forward pass in onnxruntime for batches of up to `largest` faces and in torch (BatchNorm folded,
    channels-last, built on first use) for larger ones: on the CPU onnxruntime is far faster for a few faces and
    slower for many. Measured on two cores with the shipped mbv2 at 64 px (milliseconds per face, torch against
    onnxruntime): 16.7 / 5.0 at 1 face, 6.1 / 2.9 at 4, 2.7 / 2.2 at 16, 1.9 / 3.1 at 32, 1.1 / 2.1 at 64."""

    def __init__(self, onnx_model: Callable[[torch.Tensor], PCNNOutput], model: PCNN, largest: int = 16) -> None:
        self.onnx_model = onnx_model
        self.model = model
        self.largest = largest
        self._torch: Callable[[torch.Tensor], PCNNOutput] | None = None

    def __call__(self, batch: torch.Tensor) -> PCNNOutput:
        if len(batch) <= self.largest:
            return self.onnx_model(batch)
        if self._torch is None:
            self._torch = optimize_for_inference(self.model)
        return self._torch(batch)


def _framing_of(metadata: ModelMetadata) -> FaceFraming:
    """The framing the model's metadata records; else the default one, with a warning, since a model fed faces
    framed unlike those it learnt from (another template, colour for grey) answers differently, often worse."""
    if metadata.framing:
        return FaceFraming.from_dict(metadata.framing.to_dict())
    warnings.warn("the model's metadata records no face framing (config.json: metadata.framing), so faces are cut "
                  "with the default one (five-point template, colour, at the input size); if the model learnt from "
                  "other crops, pass framing=FaceFraming(...) or save it with its framing", UserWarning, stacklevel=3)
    return FaceFraming()


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


def _is_pixels(item: object) -> bool:
    """A decoded image (as opposed to the error record of one that could not be read)."""
    return isinstance(item, np.ndarray)
