"""The `wild` augmentation, run on whole batches on the training device.

Faces reach a deployed model cut by a face detector from photos and video frames: tight or loose, tilted, dark or
washed out, blurred, JPEG-compressed. This policy shows the model all of that. It runs per batch where the model
runs, because per-image augmentation on the CPU starves a GPU (and costs a 2-core machine more than the model's
own step at 64 px): the loader only decodes faces and brings them to one working size as uint8; everything else
is tensor arithmetic on the batch.

Order, each step on the face at its working resolution as in use: JPEG re-encoding (probability 0.25, quality
30-90, on the CPU), brightness and contrast (+-40 %), a Gaussian blur (probability 0.2), then one warp to the input size
that flips (probability 0.5), rotates (up to 15 degrees), shifts (up to 6 %) and crops 65-100 % of the face's
area (aspect 0.85-1.18; tight crops given as-is), then the model's normalisation and erasing of 2-15 % of the
image (probability 0.25).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from pcnn_fer.data.preprocessing import Preprocessing


@dataclass(frozen=True)
class WildPolicy:
    """The ranges of the wild policy; the defaults are the recipe's."""

    jpeg_p: float = 0.25
    jpeg_quality: tuple[int, int] = (30, 90)
    brightness: float = 0.4
    contrast: float = 0.4
    blur_p: float = 0.2
    blur_sigma: tuple[float, float] = (0.3, 1.2)
    flip_p: float = 0.5
    degrees: float = 15.0
    translate: float = 0.06
    crop_area: tuple[float, float] = (0.65, 1.0)
    crop_aspect: tuple[float, float] = (0.85, 1.18)
    erase_p: float = 0.25
    erase_area: tuple[float, float] = (0.02, 0.15)


class BatchAugment(torch.nn.Module):
    """uint8 faces (N, 3, h, w) -> the model's normalised, augmented input (N, 3, size, size), on their device."""

    def __init__(self, preprocessing: Preprocessing, policy: WildPolicy | None = None) -> None:
        super().__init__()
        self.preprocessing, self.policy = preprocessing, policy or WildPolicy()
        self.register_buffer("mean", torch.tensor(preprocessing.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(preprocessing.std).view(1, 3, 1, 1), persistent=False)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"batch augmentation takes uint8 (N, 3, H, W) faces, got {images.dtype} "
                             f"{tuple(images.shape)}")
        images = self._jpeg(images).float() / 255.0
        images = self._light(images)
        images = self._blur(images)
        images = self._warp(images)
        images = (images - self.mean.to(images.device)) / self.std.to(images.device)
        return self._erase(images)

    def _chosen(self, count: int, p: float, device: torch.device) -> torch.Tensor:
        return torch.nonzero(torch.rand(count, device=device) < p).flatten()

    def _jpeg(self, images: torch.Tensor) -> torch.Tensor:
        """Re-encode a random part of the batch at one random quality, with OpenCV's codec on the CPU (48 px faces
        take microseconds each)."""
        chosen = self._chosen(len(images), self.policy.jpeg_p, images.device).tolist()
        if not chosen:
            return images
        low, high = self.policy.jpeg_quality
        quality = int(torch.randint(low, high + 1, ()))
        images = images.clone()
        for i, face in zip(chosen, images[chosen].permute(0, 2, 3, 1).cpu().numpy()):
            _, encoded = cv2.imencode(".jpg", np.ascontiguousarray(face), [cv2.IMWRITE_JPEG_QUALITY, quality])
            decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)  # the channel order that went in comes back
            images[i] = torch.from_numpy(decoded).permute(2, 0, 1).to(images.device)
        return images

    def _light(self, images: torch.Tensor) -> torch.Tensor:
        """Brightness (a gain) and contrast (a blend with each face's mean grey), per face."""
        n, device = len(images), images.device
        gain = 1 + (torch.rand(n, 1, 1, 1, device=device) * 2 - 1) * self.policy.brightness
        contrast = 1 + (torch.rand(n, 1, 1, 1, device=device) * 2 - 1) * self.policy.contrast
        grey = images.mean(dim=(1, 2, 3), keepdim=True)
        return ((images * gain - grey * gain) * contrast + grey * gain).clamp(0, 1)

    def _blur(self, images: torch.Tensor) -> torch.Tensor:
        """A 3x3 Gaussian blur of a random sigma on a random part of the batch."""
        chosen = self._chosen(len(images), self.policy.blur_p, images.device)
        if not len(chosen):
            return images
        low, high = self.policy.blur_sigma
        sigma = low + torch.rand(len(chosen), device=images.device) * (high - low)
        offsets = torch.tensor([-1.0, 0.0, 1.0], device=images.device)
        taps = torch.exp(-offsets.view(1, 3) ** 2 / (2 * sigma.view(-1, 1) ** 2))
        taps = taps / taps.sum(dim=1, keepdim=True)
        kernels = (taps.view(-1, 3, 1) * taps.view(-1, 1, 3)).repeat_interleave(3, dim=0).unsqueeze(1)
        picked = images[chosen]
        n, c, h, w = picked.shape
        blurred = F.conv2d(F.pad(picked.reshape(1, n * c, h, w), (1, 1, 1, 1), mode="replicate"), kernels,
                           groups=n * c).view(n, c, h, w)
        images = images.clone()
        images[chosen] = blurred
        return images

    def _warp(self, images: torch.Tensor) -> torch.Tensor:
        """One resampling to the input size: flip, rotation, shift and crop in a single affine grid."""
        policy, n, device = self.policy, len(images), images.device
        area = policy.crop_area[0] + torch.rand(n, device=device) * (policy.crop_area[1] - policy.crop_area[0])
        log_aspect = torch.empty(n, device=device).uniform_(math.log(policy.crop_aspect[0]),
                                                            math.log(policy.crop_aspect[1]))
        aspect = torch.exp(log_aspect)
        half_w, half_h = (area * aspect).sqrt().clamp(max=1), (area / aspect).sqrt().clamp(max=1)
        # The crop's centre may move as far as the face allows, plus the shift.
        centre_x = (torch.rand(n, device=device) * 2 - 1) * ((1 - half_w) + policy.translate * 2)
        centre_y = (torch.rand(n, device=device) * 2 - 1) * ((1 - half_h) + policy.translate * 2)
        angle = (torch.rand(n, device=device) * 2 - 1) * math.radians(policy.degrees)
        flip = torch.where(torch.rand(n, device=device) < policy.flip_p, -1.0, 1.0)
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.stack([torch.stack([cos * half_w * flip, -sin * half_h, centre_x], dim=1),
                             torch.stack([sin * half_w * flip, cos * half_h, centre_y], dim=1)], dim=1)
        size = self.preprocessing.size
        grid = F.affine_grid(theta, [n, 3, size, size], align_corners=False)
        if size < images.shape[-1]:  # shrinking: smooth first, as an antialiased resize would
            images = F.interpolate(images, size=(size, size), mode="area")
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    def _erase(self, images: torch.Tensor) -> torch.Tensor:
        """Erasing as torchvision's RandomErasing draws it (a box of random area and aspect 0.3-3.3, filled with
        normal noise), on a random part of the batch."""
        policy, (n, _, h, w), device = self.policy, images.shape, images.device
        area = (policy.erase_area[0] + torch.rand(n, device=device) * (policy.erase_area[1] - policy.erase_area[0]))
        aspect = torch.exp(torch.empty(n, device=device).uniform_(math.log(0.3), math.log(1 / 0.3)))
        box_h = ((area * aspect).sqrt() * h).clamp(1, h)
        box_w = ((area / aspect).sqrt() * w).clamp(1, w)
        top = torch.rand(n, device=device) * (h - box_h)
        left = torch.rand(n, device=device) * (w - box_w)
        rows = torch.arange(h, device=device).view(1, h, 1)
        cols = torch.arange(w, device=device).view(1, 1, w)
        inside = ((rows >= top.view(n, 1, 1)) & (rows < (top + box_h).view(n, 1, 1))
                  & (cols >= left.view(n, 1, 1)) & (cols < (left + box_w).view(n, 1, 1)))
        inside &= (torch.rand(n, device=device) < policy.erase_p).view(n, 1, 1)
        return torch.where(inside.unsqueeze(1), torch.randn_like(images), images)

