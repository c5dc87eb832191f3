"""The Perception CNN: a global trunk, five sense-organ trunks, multi-domain interaction, two heads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NamedTuple

import torch
import torch.nn.functional as F
from pydantic import ConfigDict, Field, InstanceOf, model_validator
from torch import nn

from pcnn_fer.models.inputs import IMAGENET_MEAN, IMAGENET_STD, MIN_INPUT_SIZE
from pcnn_fer.models.metadata import ModelMetadata
from pcnn_fer.models.organs import ORGANS
from pcnn_fer.models.regions import RegionLayout
from pcnn_fer.models.state import check_state_dict
from pcnn_fer.models.trunks import get_backbone
from pcnn_fer.validation import Checked, Float

STN_GRID = 7  # the localisation net sees the final stage's map pooled to 7x7 (its size at 224 px)
CLASSIFIER_PREFIXES = ("fc.", "classifier.")  # a torchvision backbone's ImageNet head, which a PCNN replaces


Positive = Annotated[Float, Field(gt=0.0)]


class PCNNConfig(Checked):
    """Everything needed to rebuild a PCNN and feed it: architecture, classes, input convention.

    `organs=False` removes the organ branches, which also removes fusion and the STN.
    """

    model_config = ConfigDict(frozen=True)
    what = "PCNN config"

    backbone: str = "resnet18"
    class_names: tuple[str, ...] = Field(tuple(f"class_{i}" for i in range(7)), min_length=2)
    layout: InstanceOf[RegionLayout] = Field(default_factory=RegionLayout)
    stn: bool = True
    organs: bool = True
    fusion: bool = True
    input_size: int = Field(224, ge=MIN_INPUT_SIZE)
    mean: tuple[Float, Float, Float] = IMAGENET_MEAN
    std: tuple[Positive, Positive, Positive] = IMAGENET_STD

    @model_validator(mode="before")
    @classmethod
    def _what_goes_with_organs(cls, data: Any) -> Any:
        """No organs, no fusion; no fusion, no STN."""
        if isinstance(data, dict):
            data = dict(data)
            if data.get("organs") is False:
                data["fusion"] = False
            if data.get("fusion") is False:
                data["stn"] = False
        return data

    @model_validator(mode="after")
    def _known_backbone_and_distinct_classes(self) -> PCNNConfig:
        get_backbone(self.backbone)
        if len(set(self.class_names)) != len(self.class_names):
            raise ValueError(f"class names must be unique, got {list(self.class_names)}")
        return self

    @property
    def num_classes(self) -> int:
        """The classifier's output count, from its class list."""
        return len(self.class_names)

    def to_dict(self) -> dict:
        """The config as plain JSON types (as config.json and the ONNX metadata keep it)."""
        data = {name: getattr(self, name) for name in type(self).model_fields}
        data.update(layout=self.layout.to_dict(), class_names=list(self.class_names), mean=list(self.mean),
                    std=list(self.std))
        return data

    @classmethod
    def from_dict(cls, data: dict) -> PCNNConfig:
        """A config from `to_dict` output; unknown keys are refused so a typo is not silently dropped."""
        data = dict(data)
        unknown = set(data) - set(cls.model_fields)
        if unknown:
            raise ValueError(f"unknown PCNN config keys {sorted(unknown)}; allowed: {sorted(cls.model_fields)}")
        if "layout" in data:
            data["layout"] = RegionLayout.from_dict(data["layout"])
        for key in ("class_names", "mean", "std"):
            if isinstance(data.get(key), list):
                data[key] = tuple(data[key])
        return cls(**data)


class PCNNOutput(NamedTuple):
    """What one forward pass yields. Organ fields are None when the model has no organ branches."""

    logits: torch.Tensor  # (N, C) main head, after fusion
    organ_logits: torch.Tensor | None  # (N, C) the "sense" prediction: sum of the organ heads
    per_organ_logits: torch.Tensor | None  # (N, 5, C) each organ's head, in ORGANS order
    theta: torch.Tensor  # (N, 2, 3) the STN's affine registration (identity without STN)


class PCNN(nn.Module):
    """Perception CNN (Tian et al., IEEE TIP 2025), registering only what the forward pass uses."""

    def __init__(self, config: PCNNConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or PCNNConfig()
        self.metadata = ModelMetadata()  # filled in by load_model from the directory it comes from
        spec = get_backbone(config.backbone)
        self.global_trunk, self.final_stage = spec.split()
        if config.organs:
            self.organ_trunks = nn.ModuleList(spec.split()[0] for _ in ORGANS)
            self.organ_heads = nn.ModuleList(nn.Linear(spec.trunk_channels, config.num_classes) for _ in ORGANS)
        if config.stn:
            self.stn_head = nn.Sequential(
                nn.Linear(spec.stage_channels * STN_GRID * STN_GRID, 32), nn.ReLU(), nn.Linear(32, 6))
            # Start from the identity warp, as a trained STN starts.
            nn.init.zeros_(self.stn_head[2].weight)
            with torch.no_grad():
                self.stn_head[2].bias.copy_(torch.tensor([1.0, 0, 0, 0, 1, 0]))
        self.head = nn.Linear(spec.stage_channels, config.num_classes)

    @property
    def class_names(self) -> tuple[str, ...]:
        """The output classes, in logit order."""
        return self.config.class_names

    def forward(self, images: torch.Tensor) -> PCNNOutput:
        self._check_input(images)
        global_map = self.global_trunk(images)
        organ_logits = per_organ = None
        theta = torch.eye(2, 3, dtype=images.dtype, device=images.device).expand(images.shape[0], 2, 3)
        fused = global_map
        if self.config.organs:
            organ_maps = [trunk(crop) for trunk, crop in zip(self.organ_trunks, self.config.layout.crops(images))]
            per_organ = torch.stack(
                [head(_pool(m)) for head, m in zip(self.organ_heads, organ_maps)], dim=1)
            organ_logits = per_organ.sum(dim=1)
            if self.config.fusion:
                stitched = self.stitch(organ_maps, global_map.shape[-2:])
                if self.config.stn:
                    theta, stitched = self.register(stitched)
                fused = global_map + stitched
        logits = self.head(_pool(self.final_stage(fused)))
        return PCNNOutput(logits, organ_logits, per_organ, theta)

    def stitch(self, organ_maps: list[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
        """Organ maps laid out row by row as on the face, resized onto the global map's grid."""
        by_organ = dict(zip(ORGANS, organ_maps))
        rows = []
        for row in self.config.layout.rows:
            joined = torch.cat([by_organ[o] for o in row], dim=3)
            rows.append(F.interpolate(joined, size=(joined.shape[2], size[1]), mode="bilinear",
                                      align_corners=True))
        stacked = torch.cat(rows, dim=2)
        return F.interpolate(stacked, size=tuple(size), mode="bilinear", align_corners=True)

    def register(self, stitched: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The spatial transformer: its localisation net reuses the final stage."""
        cues = F.adaptive_avg_pool2d(self.final_stage(stitched), STN_GRID).flatten(1)
        theta = self.stn_head(cues).view(-1, 2, 3)
        grid = F.affine_grid(theta, list(stitched.shape), align_corners=True)
        return theta, F.grid_sample(stitched, grid, align_corners=True)

    def init_backbone(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Initialise every trunk and the final stage from one backbone's torchvision state_dict."""
        spec = get_backbone(self.config.backbone)
        network = spec.build()
        check_state_dict(network.state_dict(), state_dict, f"backbone weights do not fit {spec.name}",
                         ignore=CLASSIFIER_PREFIXES)
        network.load_state_dict({k: v for k, v in state_dict.items() if not k.startswith(CLASSIFIER_PREFIXES)},
                                strict=False)
        trunk, stage = spec.split(network)
        trunks = [self.global_trunk, *(self.organ_trunks if self.config.organs else [])]
        for target in trunks:
            target.load_state_dict(trunk.state_dict())
        self.final_stage.load_state_dict(stage.state_dict())

    def save_pretrained(self, directory: str | Path, metadata: ModelMetadata | dict | None = None) -> Path:
        """Write config JSON + safetensors; `metadata` None keeps the model's own. See pcnn_fer.models.storage."""
        from pcnn_fer.models.storage import save_model

        return save_model(self, directory, metadata=metadata)

    @classmethod
    def from_pretrained(cls, model: str | Path | None = None, device: str | torch.device = "cpu") -> PCNN:
        """The model a reference names, in eval mode: a shipped name (None: the default), a directory written by
        save_pretrained, or a training run (see models.resolve)."""
        from pcnn_fer.models.storage import load_model

        return load_model(model, device=device)

    def _check_input(self, images: torch.Tensor) -> None:
        if not isinstance(images, torch.Tensor):
            raise TypeError(f"PCNN expects a torch.Tensor batch, got {type(images).__name__}")
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"PCNN expects a (N, 3, H, W) batch of RGB images, got shape {tuple(images.shape)}")


def _pool(feature_map: torch.Tensor) -> torch.Tensor:
    return F.adaptive_avg_pool2d(feature_map, 1).flatten(1)


def count_parameters(model: nn.Module) -> int:
    """All parameters of `model`, trainable or not."""
    return sum(p.numel() for p in model.parameters())
