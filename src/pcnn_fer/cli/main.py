"""`pcnn-fer`: one entry point, one small module per command."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from pcnn_fer.version import __version__

# Each module defines register(subparsers), which adds its parser and sets `run`.
COMMAND_MODULES = ["info", "models", "convert", "data", "predict", "corpus", "report", "export", "train", "eval",
                   "quickstart", "serve"]

EXIT_ERROR = 2  # a library error, told in one line (argparse's usage errors exit 2 too)
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM: 128 + SIGINT, as shells report Ctrl-C

# What OpenCV and the FFmpeg inside it print unless -v: nothing. Their messages ("moov atom not found", "can't open
# camera by index") only repeat, in their own words, failures the tool reports itself. Read when OpenCV opens its
# first video, so set before any command runs; a value the user exported wins.
QUIET_THIRD_PARTIES = {"OPENCV_LOG_LEVEL": "SILENT", "OPENCV_FFMPEG_LOGLEVEL": "-8"}  # -8: AV_LOG_QUIET


def build_parser() -> argparse.ArgumentParser:
    """The `pcnn-fer` parser with every command's subparser."""
    parser = argparse.ArgumentParser(prog="pcnn-fer", description="Perception CNN for facial expression recognition")
    parser.add_argument("--version", action="version", version=f"pcnn-fer {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log debug messages, and let OpenCV and other libraries print their own")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"pcnn_fer.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a command; errors of input (a bad file, flag or value: OSError, ValueError, RuntimeError) become one
    line on stderr and exit status 2, with -v their traceback, causes included; anything else is a bug and
    shows its traceback."""
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        with _sigterm_as_interrupt():
            return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("pcnn-fer: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (OSError, ValueError, RuntimeError) as error:
        if args.verbose:
            raise
        print(f"pcnn-fer {args.command}: error: {error}", file=sys.stderr)
        return EXIT_ERROR


def _configure_logging(verbose: bool) -> None:
    """The tool's own messages at INFO (DEBUG with -v); other libraries' only from WARNING, or all with -v."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(message)s")
    logging.getLogger("pcnn_fer").setLevel(logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        for name, value in QUIET_THIRD_PARTIES.items():
            os.environ.setdefault(name, value)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (what kill and timeout send) stops a command as Ctrl-C does: files being written are finished or
    marked unfinished, and the command says how far it got, instead of dying with them half-written."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
