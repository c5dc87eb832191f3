"""`pcnn-fer`: one entry point, one small module per command."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from pcnn_fer.version import __version__

# Each module defines register(subparsers), which adds its parser and sets `run`.
COMMAND_MODULES = ["info", "models", "convert", "data", "predict", "export", "train", "eval", "quickstart", "serve"]


def build_parser() -> argparse.ArgumentParser:
    """The `pcnn-fer` parser with every command's subparser."""
    parser = argparse.ArgumentParser(prog="pcnn-fer", description="Perception CNN for facial expression recognition")
    parser.add_argument("--version", action="version", version=f"pcnn-fer {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"pcnn_fer.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a command; library errors become one line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("pcnn-fer: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, RuntimeError, KeyError) as error:
        if args.verbose:
            raise
        print(f"pcnn-fer {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
