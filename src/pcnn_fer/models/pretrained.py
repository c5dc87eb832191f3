"""Models shipped inside the package, each a named entry that carries its own metadata, as torchvision's weight
enums do: `Pretrained.DEFAULT.load()`, `Pretrained.PCNN_MBV2_FERPLUS.metadata.metrics`.

An entry is an ordinary model directory (config.json + model.safetensors) under `weights/shipped/`, where the
package keeps weight files: the metadata lives in its config.json alone (classes, input convention and framing,
training data and terms, recipe, commit, metrics, calibration), so nothing here can disagree with the file.
Any command or function that takes a model takes these names (see models.resolve).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from pcnn_fer.models.metadata import ModelMetadata
    from pcnn_fer.models.pcnn import PCNN, PCNNConfig


@dataclass(frozen=True)
class PretrainedEntry:
    """One shipped model: its name (what `--model NAME` takes) and its folder under weights/shipped/."""

    name: str
    folder: str

    @property
    def path(self) -> Path:
        """The model directory inside the installed package."""
        return Path(str(resources.files("pcnn_fer") / "weights" / "shipped" / self.folder))

    @cached_property
    def _document(self) -> tuple[PCNNConfig, ModelMetadata]:
        from pcnn_fer.models.storage import read_config  # storage resolves names through this module

        return read_config(self.path)

    @property
    def config(self) -> PCNNConfig:
        """The model's PCNNConfig, read from its config.json without loading weights."""
        return self._document[0]

    @property
    def metadata(self) -> ModelMetadata:
        """Training data, protocol, metrics, calibration and framing, as config.json records them."""
        return self._document[1]

    def load(self, device: str | torch.device = "cpu") -> PCNN:
        """The PCNN with its weights, on `device`."""
        from pcnn_fer.models.storage import load_model

        return load_model(self.path, device=device)

    def card(self, default: bool = False) -> str:
        """A few lines saying what the model is, what it was trained on, and how well it does."""
        from pcnn_fer.models.metadata import WITHOUT_PRIOR_CORRECTION

        config, metadata = self.config, self.metadata
        data = metadata.training_data
        colour = "grey" if metadata.framing and metadata.framing.grey else "RGB"
        lines = [f"{self.name}{' (default)' if default else ''}: {config.backbone} PCNN, {config.input_size} px "
                 f"{colour}, classes {', '.join(config.class_names)}",
                 f"  trained on {data.get('name', metadata.dataset or '?')} ({data.get('protocol', '?')})"]
        for split, metrics in metadata.metrics.items():
            lines.append(f"  {split}: accuracy {100 * metrics['accuracy']:.2f} %, mean class accuracy "
                         f"{100 * metrics['mean_class_accuracy']:.2f} %, macro-F1 {100 * metrics['macro_f1']:.2f} % "
                         f"({metrics.get('protocol', '')}, {metrics.get('count', '?')} faces)")
        recall = metadata.metrics.get("test", {}).get("per_class")
        if recall:
            lines.append("  test recall: " + ", ".join(f"{name} {100 * figures['recall']:.1f}"
                                                      for name, figures in recall.items()))
        for row in metadata.extra.get("paper_rows", []):
            paper = f", paper {row['paper']:.2f}" if row.get("paper") is not None else ""
            lines.append(f"  {row['row']}: accuracy {row['accuracy']:.2f} %{paper}; mean class accuracy "
                         f"{row['mean_class_accuracy']:.2f} %, macro-F1 {row['macro_f1']:.2f} % ({row['faces']} faces)")
        speed = metadata.extra.get("speed")
        if speed:
            lines.append(f"  {speed['ms_per_face_batch1']} ms per face at batch 1 on {speed['threads']} CPU threads "
                         f"({speed['runtime']})")
        if metadata.calibration:
            lines.append(f"  calibration temperature {metadata.temperature:.3f} (fitted on "
                         f"{metadata.calibration.fitted_on or '?'})")
        correction = metadata.prior_correction
        if correction and correction.weight:
            lines.append(f"  prior correction weight {correction.weight:.2f} (fitted on {correction.fitted_on or '?'}; "
                         f"every figure above but {WITHOUT_PRIOR_CORRECTION}'s is with it)")
        elif correction:
            fitted = correction.fitted_weight
            recorded = f"weight {fitted:.2f} fitted on {correction.fitted_on or '?'}, " if fitted is not None else ""
            lines.append(f"  prior correction: none applied ({recorded}the training prior recorded for "
                         f"--prior-correction W)")
        if data.get("terms"):
            lines.append(f"  data terms: {data['terms']}")
        return "\n".join(lines)


class Pretrained(Enum):
    """The shipped models; DEFAULT is what `pcnn-fer predict` and `Recognizer.from_pretrained()` use."""

    PCNN_MBV2_FERPLUS_CKPLUS48_GENTLE = PretrainedEntry("pcnn_mbv2_ferplus_ckplus48_gentle",
                                                        "pcnn_mbv2_ferplus_ckplus48_gentle")
    PCNN_MBV2_FERPLUS = PretrainedEntry("pcnn_mbv2_ferplus", "pcnn_mbv2_ferplus")
    PCNN_MBV2_FERPLUS_CKPLUS48 = PretrainedEntry("pcnn_mbv2_ferplus_ckplus48", "pcnn_mbv2_ferplus_ckplus48")
    PCNN_R18_FERPLUS = PretrainedEntry("pcnn_r18_ferplus", "pcnn_r18_ferplus")  # the paper's trunks, from scratch
    DEFAULT = PCNN_MBV2_FERPLUS_CKPLUS48_GENTLE

    def __getattr__(self, attribute: str):
        """The entry's own attributes on the member, as torchvision's weight enums offer them:
        `Pretrained.DEFAULT.load()`, `Pretrained.DEFAULT.metadata`."""
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        return getattr(self.value, attribute)

    @classmethod
    def names(cls) -> list[str]:
        """Every shipped model's name, the default first."""
        return [member.value.name for member in cls]  # iteration skips the DEFAULT alias

    @classmethod
    def find(cls, name: str) -> PretrainedEntry | None:
        """The entry named `name` in any case, or None."""
        wanted = name.casefold()
        return next((member.value for member in cls if member.value.name.casefold() == wanted), None)

    @classmethod
    def get(cls, name: str) -> PretrainedEntry:
        """The entry named `name` in any case; a KeyError lists the names."""
        entry = cls.find(name)
        if entry is None:
            raise KeyError(f"no pretrained model named {name!r}; shipped: {', '.join(cls.names())}")
        return entry
