import sys
from pathlib import Path

import torch

# The synthetic shape images live with the engine tests; the command-line tests reuse them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))

# Command tests run tiny batches: one intra-op thread is as fast, and immune to oversubscription when several
# test processes share the cores.
torch.set_num_threads(1)
