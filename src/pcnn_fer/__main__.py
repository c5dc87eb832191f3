"""`python -m pcnn_fer ...`, e.g. under `torchrun --nproc-per-node N -m pcnn_fer train ...`."""

import sys

from pcnn_fer.cli.main import main

sys.exit(main())
