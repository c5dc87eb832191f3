"""The PCNN architecture, its loss and its named variants."""

from pcnn_fer.models.loss import TwoPhaseLoss
from pcnn_fer.models.pcnn import PCNN, PCNNConfig, PCNNOutput, count_parameters
from pcnn_fer.models.regions import ORGANS, Box, RegionLayout
from pcnn_fer.models.registry import VARIANTS, create_model, list_variants, variant_config
from pcnn_fer.models.trunks import BACKBONES, get_backbone

__all__ = ["BACKBONES", "ORGANS", "PCNN", "VARIANTS", "Box", "PCNNConfig", "PCNNOutput", "RegionLayout",
           "TwoPhaseLoss", "count_parameters", "create_model", "get_backbone", "list_variants", "variant_config"]
