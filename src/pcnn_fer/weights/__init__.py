"""Weights: our safetensors directories, the authors' checkpoints, pinned files from the package index."""
