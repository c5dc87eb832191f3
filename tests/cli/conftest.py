import sys
from pathlib import Path

import pytest
import torch

# The synthetic shape images live with the engine tests; the command-line tests reuse them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))

# Command tests run tiny batches: one intra-op thread is as fast, and immune to oversubscription when several
# test processes share the cores.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """(root, data): a one-epoch training run root/run on a folder dataset of shapes at data (3 classes)."""
    from shapes import write_shapes_tree
    from tiny_training import TINY

    from pcnn_fer.cli.main import main

    root = tmp_path_factory.mktemp("cli")
    data = write_shapes_tree(root / "data", train_per_class=4, test_per_class=2, size=48)
    assert main(["train", *TINY, "--data-root", str(data), "--output", str(root), "--name", "run"]) == 0
    return root, data
