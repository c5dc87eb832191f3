"""Weights: our safetensors directories, the shipped pretrained models, the authors' checkpoints, and pinned
files from the package index."""
