"""pcnn-fer: the Perception CNN for facial expression recognition."""

__version__ = "0.1.0"

from pcnn_fer.models import PCNN, PCNNConfig, PCNNOutput, TwoPhaseLoss, create_model  # noqa: E402
from pcnn_fer.weights.store import load_model  # noqa: E402

__all__ = ["PCNN", "PCNNConfig", "PCNNOutput", "TwoPhaseLoss", "__version__", "create_model", "load_model"]
