"""Image -> tensor pipelines: the training augmentations (the paper's, a light one, none) and the evaluation one.

Both accept an RGB uint8 numpy array (H, W, 3), a grey (H, W) array or a PIL image, and return a float
tensor (3, size, size) made by the model's Preprocessing (its resize first, its normalisation last).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2

from pcnn_fer.data.images import load_image
from pcnn_fer.data.names import AUGMENTATIONS, BATCHED_AUGMENTATIONS
from pcnn_fer.data.preprocessing import Preprocessing


class ToRGBImage(torch.nn.Module):
    """Any picture (grey, RGBA, 16-bit, PIL or numpy) as a uint8 (3, H, W) image tensor, via images.load_image."""

    def forward(self, image: np.ndarray | Image.Image | torch.Tensor) -> tv_tensors.Image:
        if isinstance(image, torch.Tensor):
            image = image.permute(1, 2, 0).numpy() if image.ndim == 3 else image.numpy()
        rgb = load_image(image)
        if not rgb.flags.writeable:  # cached pixels are a read-only memory map; torch wants its own copy
            rgb = rgb.copy()
        return tv_tensors.Image(torch.from_numpy(rgb).permute(2, 0, 1))


def train_transform(preprocessing: Preprocessing, policy: str = "reference", working_size: int = 0) -> v2.Compose:
    """A training augmentation between the model's resize and its normalisation (`preprocessing`).

    - reference: the paper's; horizontal flip, with probability 0.2 a rotation of up to 20 degrees followed by a
      size crop after 32 px padding, then random erasing of 2-25 % of the image;
    - light: for short schedules on small faces (FER2013's 48 px); horizontal flip, a random affine of up to
      10 degrees, 8 % shift and 10 % zoom, and with probability 0.25 erasing of 2-15 %;
    - wild: batched on the training device (data.batch_augment); here only the decoding and the resize to the
      working size, as uint8;
    - none: the evaluation transform.
    """
    if policy not in AUGMENTATIONS:
        raise ValueError(f"augmentation {policy!r}; expected one of {', '.join(AUGMENTATIONS)}")
    if policy == "none":
        return eval_transform(preprocessing)
    if policy in BATCHED_AUGMENTATIONS:
        return working_transform(working_size or preprocessing.size)
    size = preprocessing.size
    if policy == "reference":
        geometric = [v2.RandomHorizontalFlip(),
                     v2.RandomApply([v2.RandomRotation(20), v2.RandomCrop(size, padding=32)], p=0.2)]
        erasing = v2.RandomErasing(scale=(0.02, 0.25))
    elif policy == "light":
        geometric = [v2.RandomHorizontalFlip(), v2.RandomAffine(10, translate=(0.08, 0.08), scale=(0.9, 1.1))]
        erasing = v2.RandomErasing(p=0.25, scale=(0.02, 0.15))
    return v2.Compose([ToRGBImage(), preprocessing.resize_step(), *geometric, *preprocessing.normalize_steps(),
                       erasing, v2.ToPureTensor()])


def eval_transform(preprocessing: Preprocessing) -> v2.Compose:
    """The model's resize and normalisation alone: what evaluation and inference see."""
    return v2.Compose([ToRGBImage(), preprocessing.resize_step(), *preprocessing.normalize_steps(), v2.ToPureTensor()])


def working_transform(size: int) -> v2.Compose:
    """Before a batched policy: decode to RGB and resize to the working size, as a uint8 (3, size, size) tensor."""
    return v2.Compose([ToRGBImage(), v2.Resize((size, size), antialias=True), v2.ToPureTensor()])
