"""Flags of a one-epoch training run small enough for command tests (a folder dataset, mbv2 at 48 px, one thread)."""

TINY = ["--dataset", "folder", "--variant", "pcnn_mbv2", "--pretrained", "none", "--model.input_size", "48",
        "--batch-size", "6", "--workers", "0", "--epochs", "1", "--select", "last", "--threads", "1", "--quiet"]
