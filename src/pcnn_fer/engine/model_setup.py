"""The model a fold starts from: seeded generators, a fresh PCNN of the recipe's variant, its starting weights."""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path

import numpy as np
import torch

from pcnn_fer.engine.config import TrainConfig
from pcnn_fer.engine.distributed import DistContext
from pcnn_fer.models.pcnn import PCNN
from pcnn_fer.models.registry import create_model
from pcnn_fer.models.resolve import ModelNotFoundError, resolve_model
from pcnn_fer.models.storage import load_model
from pcnn_fer.weights.backbones import load_backbone_weights

log = logging.getLogger(__name__)


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, NumPy and torch, and with `deterministic` ask torch for deterministic algorithms."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def build_model(config: TrainConfig, class_names: tuple[str, ...]) -> PCNN:
    """A freshly initialised PCNN of the recipe's variant for these classes (see PretrainedWeights for more)."""
    return create_model(config.model.variant, class_names=class_names, input_size=config.model.input_size,
                        organs=config.model.organs, fusion=config.model.fusion, stn=config.model.stn,
                        mean=tuple(config.augment.mean), std=tuple(config.augment.std))


def model_directory_of(source: str) -> Path | None:
    """The pcnn-fer model `source` names (as every --model does), or None when it names backbone weights
    ("imagenet", a torchvision file)."""
    try:
        return resolve_model(source)
    except ModelNotFoundError:
        return None


def transfer_weights(start: PCNN, model: PCNN, source: str) -> None:
    """Start `model` from another PCNN of the same backbone: every weight, or, when the classes differ (a FERPlus
    model starting a CK+ run), every weight but the class heads, which keep their fresh initialisation."""
    if start.config.backbone != model.config.backbone:
        raise ValueError(f"model.pretrained {source} is a {start.config.backbone} model; this run needs "
                         f"{model.config.backbone}")
    own = model.state_dict()
    taken = {key: value for key, value in start.state_dict().items()
             if key in own and own[key].shape == value.shape}
    left = sorted(set(own) - set(taken))
    if start.class_names == model.class_names and left:
        raise ValueError(f"model.pretrained {source} lacks {len(left)} of this model's weights, e.g. {left[0]}")
    model.load_state_dict({**own, **taken})
    if left:
        log.info("model.pretrained %s: every weight but the class heads (%d tensors) taken; its classes %s, "
                 "this run's %s", source, len(left), ", ".join(start.class_names), ", ".join(model.class_names))


class PretrainedWeights:
    """model.pretrained, read once per run and applied to each fold that starts afresh.

    A fold resumed from its last checkpoint skips them: the checkpoint's weights replace them anyway.
    """

    def __init__(self, source: str, context: DistContext) -> None:
        self.source = source
        self.context = context
        self._loaded: PCNN | dict[str, torch.Tensor] | None = None

    def apply(self, model: PCNN) -> PCNN:
        """Initialise `model` as model.pretrained says: unchanged ("none"), a whole pcnn-fer model, or its trunks."""
        if self.source == "none":
            return model
        start_model = model_directory_of(self.source)
        if start_model is not None:
            if self._loaded is None:
                self._loaded = load_model(start_model)
            transfer_weights(self._loaded, model, self.source)
            return model
        if self._loaded is None:
            # The main process fetches first, so several processes never race to fill the cache.
            if not self.context.is_main:
                self.context.barrier()
            self._loaded = load_backbone_weights(self.source, model.config.backbone)
            if self.context.is_main:
                self.context.barrier()
        model.init_backbone(self._loaded)
        return model
