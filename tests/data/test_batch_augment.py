"""The wild augmentation, batched: its output convention, and each step doing what it says."""

from __future__ import annotations

import pytest
import torch

from pcnn_fer.data.batch_augment import BatchAugment, WildPolicy
from pcnn_fer.data.preprocessing import Preprocessing
from pcnn_fer.data.transforms import train_transform

QUIET = WildPolicy(jpeg_p=0.0, brightness=0.0, contrast=0.0, blur_p=0.0, flip_p=0.0, degrees=0.0, translate=0.0,
                   crop_area=(1.0, 1.0), crop_aspect=(1.0, 1.0), erase_p=0.0)


def _faces(count: int = 6, size: int = 48) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    grey = torch.randint(0, 256, (count, 1, size, size), generator=generator, dtype=torch.uint8)
    return grey.expand(-1, 3, -1, -1).contiguous()


def _normalised(faces: torch.Tensor, preprocessing: Preprocessing) -> torch.Tensor:
    mean = torch.tensor(preprocessing.mean).view(1, 3, 1, 1)
    std = torch.tensor(preprocessing.std).view(1, 3, 1, 1)
    return (faces.float() / 255 - mean) / std


def test_output_is_the_models_normalised_input_at_its_size() -> None:
    torch.manual_seed(0)
    out = BatchAugment(Preprocessing(64))(_faces())
    assert out.shape == (6, 3, 64, 64) and out.dtype == torch.float32
    assert torch.isfinite(out).all()


def test_with_every_step_off_the_faces_pass_unchanged() -> None:
    preprocessing = Preprocessing(48)
    faces = _faces()
    out = BatchAugment(preprocessing, QUIET)(faces)
    torch.testing.assert_close(out, _normalised(faces, preprocessing), atol=1e-4, rtol=0)


def test_a_certain_flip_mirrors_every_face() -> None:
    preprocessing = Preprocessing(48)
    faces = _faces()
    flipping = WildPolicy(**{**QUIET.__dict__, "flip_p": 1.0})
    out = BatchAugment(preprocessing, flipping)(faces)
    torch.testing.assert_close(out, _normalised(faces.flip(-1), preprocessing), atol=1e-4, rtol=0)


@pytest.mark.parametrize("step", [{"jpeg_p": 1.0}, {"blur_p": 1.0}, {"brightness": 0.4}, {"degrees": 15.0},
                                  {"crop_area": (0.65, 0.7)}, {"erase_p": 1.0}])
def test_each_step_changes_the_faces(step: dict) -> None:
    torch.manual_seed(1)
    preprocessing = Preprocessing(48)
    faces = _faces()
    out = BatchAugment(preprocessing, WildPolicy(**{**QUIET.__dict__, **step}))(faces)
    changed = (out - _normalised(faces, preprocessing)).abs().amax(dim=(1, 2, 3)) > 0.05
    assert changed.all(), f"{step} left {int((~changed).sum())} of {len(faces)} faces unchanged"


def test_erasing_covers_the_area_asked_for() -> None:
    torch.manual_seed(2)
    preprocessing = Preprocessing(48)
    faces = torch.full((32, 3, 48, 48), 128, dtype=torch.uint8)
    out = BatchAugment(preprocessing, WildPolicy(**{**QUIET.__dict__, "erase_p": 1.0}))(faces)
    erased = (out - _normalised(faces, preprocessing)).abs().amax(dim=1) > 1e-6
    share = erased.float().mean(dim=(1, 2))
    assert (share > 0.005).all() and (share < 0.2).all()


def test_float_or_grey_batches_are_refused() -> None:
    augment = BatchAugment(Preprocessing(48))
    with pytest.raises(ValueError, match="uint8"):
        augment(torch.zeros(2, 3, 48, 48))
    with pytest.raises(ValueError, match="uint8"):
        augment(torch.zeros(2, 1, 48, 48, dtype=torch.uint8))


def test_the_loader_side_of_wild_only_decodes_and_resizes() -> None:
    face = torch.randint(0, 256, (40, 40), dtype=torch.uint8).numpy()
    out = train_transform(Preprocessing(64), "wild", working_size=48)(face)
    assert out.dtype == torch.uint8 and out.shape == (3, 48, 48)
    assert train_transform(Preprocessing(64), "wild")(face).shape == (3, 64, 64)  # default: the input size
