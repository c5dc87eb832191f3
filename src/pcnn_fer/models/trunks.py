"""How each backbone splits into an organ trunk and a final stage: the one place that knows layer names.

Adding a backbone is one entry in BACKBONES.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torchvision
from torch import nn


@dataclass(frozen=True)
class BackboneSplit:
    """A torchvision classifier cut into trunk (stride 16) and final stage (stride 32)."""

    name: str
    build: Callable[[], nn.Module]
    trunk: Callable[[nn.Module], nn.Module]
    final_stage: Callable[[nn.Module], nn.Module]
    trunk_channels: int
    stage_channels: int
    description: str

    def split(self, network: nn.Module | None = None) -> tuple[nn.Module, nn.Module]:
        """(trunk, final stage) cut from `network`, or from a freshly built one."""
        network = network if network is not None else self.build()
        return self.trunk(network), self.final_stage(network)


def _resnet18() -> nn.Module:
    return torchvision.models.resnet18(weights=None)


def _mobilenet_v2() -> nn.Module:
    return torchvision.models.mobilenet_v2(weights=None)


BACKBONES: dict[str, BackboneSplit] = {
    "resnet18": BackboneSplit(
        name="resnet18",
        build=_resnet18,
        trunk=lambda m: nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2, m.layer3),
        final_stage=lambda m: m.layer4,
        trunk_channels=256,
        stage_channels=512,
        description="trunk = conv1..layer3, final stage = layer4 (the paper's)",
    ),
    "mobilenet_v2": BackboneSplit(
        name="mobilenet_v2",
        build=_mobilenet_v2,
        # features[14] is the first stride-2 block to 160 channels: everything before it runs at stride 16.
        trunk=lambda m: m.features[:14],
        final_stage=lambda m: m.features[14:],
        trunk_channels=96,
        stage_channels=1280,
        description="trunk = features[0:14], final stage = features[14:19]",
    ),
}


def get_backbone(name: str) -> BackboneSplit:
    """The split of backbone `name`; a ValueError lists the known ones."""
    try:
        return BACKBONES[name]
    except KeyError as cause:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}") from cause
