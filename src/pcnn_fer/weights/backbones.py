"""Where a PCNN's trunks get their starting weights: a pinned ImageNet file, torchvision's own cache,
or a local file (a torchvision state_dict, or the MS-Celeb-1M ResNet-18 that FER repos use).

Every file is read through the safe loader, and nothing is downloaded from a model hub.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch
import torchvision

from pcnn_fer.models.pcnn import CLASSIFIER_PREFIXES
from pcnn_fer.models.state import check_state_dict
from pcnn_fer.models.trunks import get_backbone
from pcnn_fer.weights.pinned import fetch_pinned
from pcnn_fer.weights.safe_pickle import DATA_PARALLEL_PREFIX, safe_load
from pcnn_fer.weights.sources import sha256_of

IMAGENET = "imagenet"
# torchvision's ImageNet file for resnet18, used only when torch.hub already holds it.
RESNET18_IMAGENET_URL = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url


def torch_hub_file(url: str) -> Path:
    """Where torch.hub keeps the file of `url` once downloaded (TORCH_HOME/hub/checkpoints)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def resolve_backbone_file(source: str | Path, backbone: str) -> Path:
    """The local file behind `source`: "imagenet" (pinned or torch.hub-cached) or a path."""
    if str(source) != IMAGENET:
        return Path(source)
    if backbone == "mobilenet_v2":
        return fetch_pinned("mobilenet_v2_imagenet")
    if backbone == "resnet18":
        path = torch_hub_file(RESNET18_IMAGENET_URL)
        if not path.is_file():
            raise FileNotFoundError(
                f"ImageNet weights for resnet18 are not on this machine: expected torchvision's file at {path}. "
                f"Put resnet18-f37072fd.pth there (from {RESNET18_IMAGENET_URL}), or pass the path of a local "
                f"resnet18 state_dict instead of {IMAGENET!r}.")
        _check_torchvision_hash(path)
        return path
    raise ValueError(f"no {IMAGENET!r} weights are known for backbone {backbone!r}; pass a local file")


def load_backbone_weights(source: str | Path, backbone: str) -> dict[str, torch.Tensor]:
    """A torchvision state_dict of `backbone` without its classifier, for PCNN.init_backbone().

    Accepts a plain state_dict or one under a 'state_dict' entry, with or without DataParallel's
    `module.` prefix; the classifier (e.g. an MS-Celeb face-identity fc of any size) is dropped.
    """
    spec = get_backbone(backbone)
    path = resolve_backbone_file(source, backbone)
    content = safe_load(path).content
    if isinstance(content, Mapping) and isinstance(content.get("state_dict"), Mapping):
        content = content["state_dict"]
    if not isinstance(content, Mapping):
        raise ValueError(f"{path}: expected a state_dict, found {type(content).__name__}")
    state = {str(k).removeprefix(DATA_PARALLEL_PREFIX): v for k, v in content.items()}
    expected = {k: v for k, v in spec.build().state_dict().items() if not k.startswith(CLASSIFIER_PREFIXES)}
    check_state_dict(expected, state, f"{path} does not hold {backbone} weights", allow_unexpected=True)
    return {k: state[k] for k in expected}


def _check_torchvision_hash(path: Path) -> None:
    # torchvision names its files <name>-<first hex digits of the sha256>.pth.
    match = re.search(r"-([0-9a-f]{6,})\.", path.name)
    if match and not sha256_of(path).startswith(match.group(1)):
        raise ValueError(f"{path}: content does not match the hash in its name ({match.group(1)}); "
                         f"delete it and put torchvision's file there again")
