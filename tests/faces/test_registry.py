"""Detectors by name: the names, "none" as the one spelling of no detector, and a registry that loads no torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from pcnn_fer.faces.detect import GivenFaces
from pcnn_fer.faces.registry import NO_DETECTOR, create_detector, detector_names


def test_names_include_none_in_the_order_a_command_line_offers_them() -> None:
    assert detector_names() == ("auto", "mtcnn", "haar", "blazeface", NO_DETECTOR)
    assert NO_DETECTOR == "none"


def test_an_unknown_name_gets_one_line_listing_the_names() -> None:
    with pytest.raises(ValueError) as raised:
        create_detector("dlib")
    message = str(raised.value)
    assert "\n" not in message
    assert message == "unknown face detector 'dlib'; expected one of: auto, mtcnn, haar, blazeface, none"


@pytest.mark.parametrize("spelling", ["given", "None", "", "MTCNN"])
def test_only_the_registered_spellings_are_accepted(spelling: str) -> None:
    with pytest.raises(ValueError, match="unknown face detector"):
        create_detector(spelling)


def test_none_gives_the_caller_given_faces() -> None:
    detector = create_detector(NO_DETECTOR)
    assert isinstance(detector, GivenFaces) and detector.name == NO_DETECTOR
    image = np.zeros((48, 64, 3), dtype=np.uint8)
    assert [d.box for d in detector.detect(image)] == [(0.0, 0.0, 64.0, 48.0)]
    boxed = create_detector(NO_DETECTOR, boxes=[(1, 2, 30, 40)])
    assert [d.box for d in boxed.detect(image)] == [(1.0, 2.0, 30.0, 40.0)]


def test_haar_is_made_by_name() -> None:
    assert create_detector("haar").name == "haar"


def test_the_registry_and_the_faces_package_load_no_torch_or_opencv() -> None:
    probe = ("import sys; import pcnn_fer.faces.registry as r; r.detector_names(); import pcnn_fer.faces; "
             "print(sorted(m for m in ('torch', 'cv2', 'numpy', 'torchvision') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"

