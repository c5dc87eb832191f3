"""The Recognizer is part of the public face, without making `import pcnn_fer` heavy."""

from __future__ import annotations

import subprocess
import sys

import pcnn_fer
from pcnn_fer.inference.recognizer import Recognizer


def test_recognizer_is_exposed_at_the_top():
    assert pcnn_fer.Recognizer is Recognizer and "Recognizer" in pcnn_fer.__all__


def test_importing_the_package_loads_neither_onnxruntime_nor_opencv():
    probe = "import sys, pcnn_fer; print(sorted(m for m in ('onnxruntime', 'onnx', 'cv2') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
