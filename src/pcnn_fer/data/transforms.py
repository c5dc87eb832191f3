"""Image -> tensor pipelines: the training augmentations (the paper's, a light one, none) and the evaluation one.

Both accept an RGB uint8 numpy array (H, W, 3), a grey (H, W) array or a PIL image, and return a float
tensor (3, size, size) normalised with the given mean and std.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2

from pcnn_fer.data.images import load_image
from pcnn_fer.models.pcnn import IMAGENET_MEAN, IMAGENET_STD


class ToRGBImage(torch.nn.Module):
    """Any picture (grey, RGBA, 16-bit, PIL or numpy) as a uint8 (3, H, W) image tensor, via images.load_image."""

    def forward(self, image: np.ndarray | Image.Image | torch.Tensor) -> tv_tensors.Image:
        if isinstance(image, torch.Tensor):
            image = image.permute(1, 2, 0).numpy() if image.ndim == 3 else image.numpy()
        rgb = load_image(image)
        if not rgb.flags.writeable:  # cached pixels are a read-only memory map; torch wants its own copy
            rgb = rgb.copy()
        return tv_tensors.Image(torch.from_numpy(rgb).permute(2, 0, 1))


AUGMENTATIONS = ("reference", "light", "none")


def train_transform(size: int = 224, mean: Sequence[float] = IMAGENET_MEAN,
                    std: Sequence[float] = IMAGENET_STD, policy: str = "reference") -> v2.Compose:
    """A training augmentation after resizing to size x size.

    - reference: the paper's; horizontal flip, with probability 0.2 a rotation of up to 20 degrees followed by a
      size crop after 32 px padding, then random erasing of 2-25 % of the image;
    - light: for short schedules on small faces (FER2013's 48 px); horizontal flip, a random affine of up to
      10 degrees, 8 % shift and 10 % zoom, and with probability 0.25 erasing of 2-15 %;
    - none: the evaluation transform.
    """
    if policy not in AUGMENTATIONS:
        raise ValueError(f"augmentation {policy!r}; expected one of {', '.join(AUGMENTATIONS)}")
    if policy == "none":
        return eval_transform(size, mean, std)
    if policy == "reference":
        geometric = [v2.RandomHorizontalFlip(),
                     v2.RandomApply([v2.RandomRotation(20), v2.RandomCrop(size, padding=32)], p=0.2)]
        erasing = v2.RandomErasing(scale=(0.02, 0.25))
    else:
        geometric = [v2.RandomHorizontalFlip(), v2.RandomAffine(10, translate=(0.08, 0.08), scale=(0.9, 1.1))]
        erasing = v2.RandomErasing(p=0.25, scale=(0.02, 0.15))
    return v2.Compose([
        ToRGBImage(),
        v2.Resize((size, size), antialias=True),
        *geometric,
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(list(mean), list(std)),
        erasing,
        v2.ToPureTensor(),
    ])


def resize_pixels(pixels: np.ndarray, size: int) -> np.ndarray:
    """An RGB uint8 (H, W, 3) array resized to (size, size, 3) by the resizer the transforms use, so faces cut
    from photos are resampled as the training images were."""
    tensor = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)
    return v2.functional.resize(tensor, [size, size], antialias=True).permute(1, 2, 0).numpy()


def eval_transform(size: int = 224, mean: Sequence[float] = IMAGENET_MEAN,
                   std: Sequence[float] = IMAGENET_STD) -> v2.Compose:
    """Resize to size x size and normalise: what evaluation and inference see."""
    return v2.Compose([
        ToRGBImage(),
        v2.Resize((size, size), antialias=True),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(list(mean), list(std)),
        v2.ToPureTensor(),
    ])
