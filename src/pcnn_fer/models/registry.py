"""Named PCNN variants and the create_model factory.

A variant is the PCNNConfig fields it sets; the registry itself imports no torch, so recipes and the command line
offer its names for free.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pcnn_fer.models.pcnn import PCNN, PCNNConfig

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
                 **overrides) -> PCNN:
    """A freshly initialised PCNN of a registered variant (`pcnn_r18`, `pcnn_mbv2`)."""
    from pcnn_fer.models.pcnn import PCNN

    return PCNN(variant_config(name, class_names, num_classes, **overrides))


def list_variants() -> list[str]:
    """The registered variant names, sorted."""
    return sorted(VARIANTS)
