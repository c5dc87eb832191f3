"""Named PCNN variants and the create_model factory.

A variant is the PCNNConfig fields it sets; the registry itself imports no torch, so recipes and the command line
offer its names for free.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pcnn_fer.models.pcnn import PCNN, PCNNConfig
    from pcnn_fer.models.pretrained import PretrainedEntry

VARIANTS: dict[str, dict[str, object]] = {
    "pcnn_r18": {"backbone": "resnet18"},
    "pcnn_mbv2": {"backbone": "mobilenet_v2"},
}


def variant_config(name: str, class_names: Sequence[str] | None = None, num_classes: int | None = None,
                   **overrides) -> PCNNConfig:
    """The registered config of `name`, with its classes and any field overridden."""
    from pcnn_fer.models.pcnn import PCNNConfig

    if name not in VARIANTS:
        raise ValueError(f"unknown PCNN variant {name!r}; choose one of {', '.join(list_variants())}")
    if class_names is not None and num_classes is not None and len(class_names) != num_classes:
        raise ValueError(f"num_classes={num_classes} contradicts {len(class_names)} class names")
    if class_names is None and num_classes is not None:
        class_names = [f"class_{i}" for i in range(num_classes)]
    if class_names is not None:
        overrides["class_names"] = tuple(class_names)
    return PCNNConfig(**{**VARIANTS[name], **overrides})


def create_model(name: str, class_names: Sequence[str] | None = None, num_classes: int | None = None,
                 pretrained: bool = False, **overrides) -> PCNN:
    """A PCNN by name, as timm's create_model: a registered variant (`pcnn_r18`, `pcnn_mbv2`) freshly initialised,
    or with `pretrained` the first shipped model of that variant; a shipped model's name (`pcnn_mbv2_ferplus`)
    gives its architecture, with `pretrained` its weights too."""
    from pcnn_fer.models.pcnn import PCNN
    from pcnn_fer.models.pretrained import Pretrained

    entry = Pretrained.find(name)
    if entry is None and pretrained:
        entry = _shipped_of_variant(name)
    if entry is None:
        return PCNN(variant_config(name, class_names, num_classes, **overrides))
    if class_names is not None or num_classes is not None or overrides:
        raise ValueError(f"{entry.name} is a shipped model: its classes and fields are its own; create the variant "
                         f"{_variant_of(entry.config.backbone)!r} to change them")
    return entry.load() if pretrained else PCNN(entry.config)


def _shipped_of_variant(variant: str) -> PretrainedEntry:
    """The first shipped model of a registered variant; ValueError when none is shipped."""
    from pcnn_fer.models.pretrained import Pretrained

    variant_config(variant)  # an unknown name fails here, listing the variants
    for member in Pretrained:
        if _variant_of(member.value.config.backbone) == variant:
            return member.value
    raise ValueError(f"no shipped weights for {variant}; shipped models: {', '.join(Pretrained.names())}")


def _variant_of(backbone: str) -> str:
    return next(name for name, fields in VARIANTS.items() if fields["backbone"] == backbone)


def list_variants() -> list[str]:
    """The registered variant names, sorted."""
    return sorted(VARIANTS)
