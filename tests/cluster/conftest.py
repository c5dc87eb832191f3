"""A corpus's inputs built in code, and one local Ray (2 CPUs) shared by the tests that run on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="module")
def local_ray(require_module):
    """A local Ray with 2 CPUs for this module's tests; corpus runs join it instead of starting their own."""
    require_module("ray", "cluster")
    import ray

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=256 << 20, logging_level="warning")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def face_crops(tmp_path_factory) -> list[Path]:
    """Twelve distinct 96x96 'face crops' (noise), for runs with the detector 'none'."""
    folder = tmp_path_factory.mktemp("crops")
    rng = np.random.default_rng(1)
    paths = []
    for i in range(12):
        path = folder / f"crop_{i:02d}.png"
        Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths
