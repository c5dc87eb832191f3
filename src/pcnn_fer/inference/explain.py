"""Why the model said what it said: each sense organ's share of the vote, and Grad-CAM on the global branch.

The two answer different questions, so they can disagree on one face (heat on the chin, the eyes' share
largest):
- an organ's share is how strongly that organ's own branch, seeing only its fixed crop of the aligned face
  (models.regions), backs the label, against the other four organs. It says nothing of regions outside the five
  crops, nor of how much the main head, which decides the label, relied on that organ.
- Grad-CAM is where on the whole face the global branch's features raised the main head's logit for the label,
  scaled to the face's own peak: it may light a region outside every organ crop, and it shows where, not how much.
Where the answer is known they agree: on a smiling face both point at the mouth, and covering the mouth lowers
both there (tests/inference/test_explain.py).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from pcnn_fer.models.pcnn import PCNN


def organ_shares(organ_probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each organ's share of the vote for the label: (N, 5, C) organ probabilities, (N,) labels -> (N, 5).

    Organ k's softmax probability for the label, divided by the sum over organs, so each row sums to 1.
    """
    picked = organ_probabilities[np.arange(len(labels)), :, labels]
    return picked / np.clip(picked.sum(axis=1, keepdims=True), 1e-12, None)


def grad_cam(model: PCNN, images: torch.Tensor, targets: torch.Tensor | np.ndarray) -> np.ndarray:
    """Grad-CAM of the main head's `targets` logits on the global trunk's output: (N, H, W) in [0, 1].

    Each map is upsampled to the input size, so it lies on the aligned crop. Samples do not mix in eval
    mode, so one backward pass over the summed target logits yields every sample's gradients.
    The model's parameters are left untouched (no .grad is written).
    """
    captured: dict[str, torch.Tensor] = {}

    def keep(_module, _inputs, output: torch.Tensor) -> torch.Tensor:
        # A fresh leaf in place of the map: gradients stop there, whether or not the weights require grad.
        captured["map"] = output.detach().requires_grad_(True)
        return captured["map"]

    was_training = model.training
    model.eval()
    handle = model.global_trunk.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            logits = model(images.detach()).logits
            targets = torch.as_tensor(targets, device=logits.device).long()
            # Gradients with respect to the map alone: no parameter gradient is computed or stored.
            (gradients,) = torch.autograd.grad(logits.gather(1, targets[:, None]).sum(), captured["map"])
    finally:
        handle.remove()
        model.train(was_training)
    feature_map = captured["map"].detach()
    weights = gradients.mean(dim=(2, 3), keepdim=True)
    cams = torch.relu((weights * feature_map).sum(dim=1)).cpu().numpy()
    size = (images.shape[-1], images.shape[-2])
    out = np.empty((len(cams), images.shape[-2], images.shape[-1]), dtype=np.float32)
    for i, cam in enumerate(cams):
        peak = float(cam.max())
        out[i] = cv2.resize(cam / peak if peak > 0 else cam, size, interpolation=cv2.INTER_LINEAR)
    return np.clip(out, 0.0, 1.0)


def heatmap_to_source(heatmap: np.ndarray, matrix: np.ndarray, source_shape: tuple[int, ...],
                      edge_fade: float = 0.06) -> np.ndarray:
    """Carry a crop-space heat map back onto the source image through the inverse of the alignment matrix.

    `matrix` maps source pixels to crop pixels; pixels outside the crop get 0. The map fades to 0 over the
    crop's outer `edge_fade` (a share of its side), so heat that reaches the crop's edge leaves no hard line
    in the shape of the crop on the source.
    """
    height, width = source_shape[:2]
    fade = max(1.0, edge_fade * min(heatmap.shape))

    def ramp(n: int) -> np.ndarray:
        return np.clip((np.minimum(np.arange(n), np.arange(n)[::-1]) + 0.5) / fade, 0.0, 1.0)

    faded = heatmap.astype(np.float32) * np.minimum.outer(ramp(heatmap.shape[0]), ramp(heatmap.shape[1]))
    return cv2.warpAffine(faded.astype(np.float32), np.asarray(matrix, dtype=np.float64), (width, height),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0)
