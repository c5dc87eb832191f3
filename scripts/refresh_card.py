"""Measure again the figures of a shipped entry's card that do not need its training run, and write them in.

    python scripts/refresh_card.py pcnn_mbv2_ferplus [--rows] [--speed]

`--rows`: the paper's rows with their published protocols (as `pcnn-fer eval --paper-rows`), for an entry shipped
before its card carried them. `--speed`: milliseconds per face at batch 1 on the threads given, in torch; run it on
a quiet machine (a training run beside it doubles the figure). The weights are left as they are; only the
metadata in config.json changes, and each figure is printed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from ship_model import print_paper_rows, speed_record

from pcnn_fer.atomic import write_text
from pcnn_fer.engine.evaluate import EvalOptions
from pcnn_fer.engine.paper_rows import score_paper_rows
from pcnn_fer.models.layout import CONFIG_FILE
from pcnn_fer.models.pretrained import Pretrained
from pcnn_fer.models.storage import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("entry", help="a shipped entry's name")
    parser.add_argument("--rows", action="store_true", help="score the paper's rows")
    parser.add_argument("--speed", action="store_true", help="time one face at batch 1")
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data/ferplus"))
    parser.add_argument("--lists", type=Path, default=Path("../shared/data/challenge_lists"),
                        help="the published challenge lists (ferplus/, rafdb/)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not (args.rows or args.speed):
        parser.error("say what to measure: --rows, --speed or both")
    torch.set_num_threads(args.threads)
    entry = Pretrained.get(args.entry)
    model = load_model(entry.path)
    document = json.loads((entry.path / CONFIG_FILE).read_text())
    if args.rows:
        rows = score_paper_rows(model, "ferplus", args.data_root, args.lists, EvalOptions(batch_size=256, workers=2))
        document["metadata"]["paper_rows"] = rows
        print_paper_rows(rows)
    if args.speed:
        document["metadata"]["speed"] = speed_record(model, args.threads)
        print(f"speed: {document['metadata']['speed']}")
    write_text(entry.path / CONFIG_FILE, json.dumps(document, indent=2) + "\n")
    print(f"card written: {entry.path / CONFIG_FILE}")


if __name__ == "__main__":
    main()
