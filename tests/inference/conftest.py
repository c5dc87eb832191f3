"""Inference tests run tiny batches: one intra-op thread is as fast, and immune to oversubscription when
several test processes share the cores."""

import torch

torch.set_num_threads(1)
