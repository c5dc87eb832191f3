"""The PCNN architecture, its loss, its named variants and its files (submodules load on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pcnn_fer.lazy import lazy_exports

if TYPE_CHECKING:
    from pcnn_fer.models.loss import TwoPhaseLoss
    from pcnn_fer.models.organs import ORGANS
    from pcnn_fer.models.pcnn import PCNN, PCNNConfig, PCNNOutput, count_parameters
    from pcnn_fer.models.regions import FractionBox, RegionLayout
    from pcnn_fer.models.registry import VARIANTS, create_model, list_variants, variant_config
    from pcnn_fer.models.trunks import BACKBONES, get_backbone

__all__ = ["BACKBONES", "ORGANS", "PCNN", "VARIANTS", "FractionBox", "PCNNConfig", "PCNNOutput", "RegionLayout",
           "TwoPhaseLoss", "count_parameters", "create_model", "get_backbone", "list_variants", "variant_config"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "TwoPhaseLoss": "loss", "ORGANS": "organs",
    "PCNN": "pcnn", "PCNNConfig": "pcnn", "PCNNOutput": "pcnn", "count_parameters": "pcnn",
    "FractionBox": "regions", "RegionLayout": "regions",
    "VARIANTS": "registry", "create_model": "registry", "list_variants": "registry", "variant_config": "registry",
    "BACKBONES": "trunks", "get_backbone": "trunks",
})
