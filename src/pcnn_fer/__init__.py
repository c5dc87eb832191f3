"""pcnn-fer: the Perception CNN for facial expression recognition."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pcnn_fer.lazy import lazy_exports
from pcnn_fer.version import __version__

if TYPE_CHECKING:
    from pcnn_fer.inference.recognizer import Recognizer
    from pcnn_fer.models import PCNN, PCNNConfig, PCNNOutput, TwoPhaseLoss, create_model
    from pcnn_fer.models.storage import load_model

__all__ = ["PCNN", "PCNNConfig", "PCNNOutput", "Recognizer", "TwoPhaseLoss", "__version__", "create_model",
           "load_model"]

__getattr__, _names = lazy_exports(__name__, {
    "PCNN": "models.pcnn", "PCNNConfig": "models.pcnn", "PCNNOutput": "models.pcnn", "TwoPhaseLoss": "models.loss",
    "create_model": "models.registry", "load_model": "models.storage", "Recognizer": "inference.recognizer",
})


def __dir__() -> list[str]:
    return sorted([*_names(), "__version__"])
