"""The --model flag, one spelling for every command that runs a model: it takes what models.resolve accepts."""

from __future__ import annotations

import argparse

MODEL_HELP = ("a shipped model's name (any case; see `pcnn-fer models`), a model directory (config.json + "
              "model.safetensors) or a training run (its selected model)")


def add_model_option(parser: argparse.ArgumentParser, extra: str = "") -> None:
    """Add --model NAME|DIR, defaulting to the shipped default model; `extra` says what else this command takes."""
    parser.add_argument("--model", default=None, metavar="NAME|DIR",
                        help=f"{MODEL_HELP}{extra} (default: the shipped default model)")
