"""pcnn-fer: the Perception CNN for facial expression recognition."""

__version__ = "0.1.0"

from pcnn_fer.models import PCNN, PCNNConfig, PCNNOutput, TwoPhaseLoss, create_model  # noqa: E402
from pcnn_fer.weights.store import load_model  # noqa: E402

__all__ = ["PCNN", "PCNNConfig", "PCNNOutput", "Recognizer", "TwoPhaseLoss", "__version__", "create_model",
           "load_model"]


def __getattr__(name: str):
    # The Recognizer pulls in faces, image decoding and OpenCV: loaded on first use, not at `import pcnn_fer`.
    if name == "Recognizer":
        from pcnn_fer.inference.recognizer import Recognizer

        return Recognizer
    raise AttributeError(f"module 'pcnn_fer' has no attribute {name!r}")
