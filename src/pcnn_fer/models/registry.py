"""Named PCNN variants and the create_model factory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from pcnn_fer.models.pcnn import PCNN, PCNNConfig

VARIANTS: dict[str, PCNNConfig] = {
    "pcnn_r18": PCNNConfig(backbone="resnet18"),
    "pcnn_mbv2": PCNNConfig(backbone="mobilenet_v2"),
}


def variant_config(name: str, class_names: Sequence[str] | None = None, num_classes: int | None = None,
                   **overrides) -> PCNNConfig:
    """The registered config of `name`, with its classes and any field overridden."""
    try:
        config = VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown PCNN variant {name!r}; choose one of {sorted(VARIANTS)}") from None
    if class_names is not None and num_classes is not None and len(class_names) != num_classes:
        raise ValueError(f"num_classes={num_classes} contradicts {len(class_names)} class names")
    if class_names is None and num_classes is not None:
        class_names = [f"class_{i}" for i in range(num_classes)]
    if class_names is not None:
        overrides["class_names"] = tuple(class_names)
    return replace(config, **overrides)


def create_model(name: str, class_names: Sequence[str] | None = None, num_classes: int | None = None,
                 **overrides) -> PCNN:
    """A freshly initialised PCNN of a registered variant (`pcnn_r18`, `pcnn_mbv2`)."""
    return PCNN(variant_config(name, class_names, num_classes, **overrides))


def list_variants() -> list[str]:
    return sorted(VARIANTS)
