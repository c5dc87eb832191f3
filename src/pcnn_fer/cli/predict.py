"""`pcnn-fer predict PATH... [--model DIR|NAME]`: expressions of every face in photos, folders, globs and videos.

One output record per face (JSON lines or CSV); an input without a face, or one that fails, gets one
record saying so and the run goes on; the exit status says whether every input, some or none were processed.
The work itself is pcnn_fer.inference.pipeline; this module parses the flags and wires it up.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

# Only light modules (constants, detector names): building the parser must not load torch, OpenCV or the image
# decoders.
from pcnn_fer.cli.main import EXIT_ERROR, EXIT_INTERRUPTED
from pcnn_fer.cli.pipeline_options import (
    add_pipeline_options,
    check_pipeline_options,
    predict_options,
    recognizer_options,
)
from pcnn_fer.inference.writers import FORMATS

if TYPE_CHECKING:
    from pcnn_fer.inference.pipeline import PredictionInterrupted

EXIT_NONE_PROCESSED = 1  # no input could be processed
EXIT_SOME_FAILED = 3  # some inputs were processed, others failed


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `predict` command and its flags."""
    parser = subparsers.add_parser(
        "predict", help="facial expressions in photos and videos",
        description="Detect, align and recognise every face in the given photos and videos. Paths may be "
                    "files, folders (searched recursively for images and videos) or glob patterns.",
        epilog=f"Exit status: 0 when every input was processed (with or without faces); {EXIT_SOME_FAILED} when "
               f"some inputs failed (their error records say why); {EXIT_NONE_PROCESSED} when none could be "
               f"processed; {EXIT_ERROR} for a wrong flag or an error that stops the run (a model that cannot be "
               f"loaded, an output FILE another run is writing); {EXIT_INTERRUPTED} "
               f"when interrupted by Ctrl-C or SIGTERM, which says how far the run got and leaves unfinished files "
               f"under a .partial name.")
    parser.add_argument("paths", nargs="*", metavar="PATH", help="image, video, folder or glob pattern")
    parser.add_argument("--webcam", type=int, nargs="?", const=0, default=None, metavar="INDEX",
                        help="read camera INDEX (default when given: 0) in real time until Ctrl-C")
    parser.add_argument("--realtime", action="store_true",
                        help="videos: keep up with the video's frame rate, skipping frames the model has no time "
                             "for (the summary says how many)")
    parser.add_argument("--format", choices=FORMATS, default=FORMATS[0], help=f"output format (default: {FORMATS[0]})")
    parser.add_argument("--output", metavar="FILE",
                        help="write records here instead of standard output; they go to FILE's .partial name "
                             "until the run is done, and a second run writing the same FILE at the same time is "
                             "refused")
    parser.add_argument("--annotate", metavar="OUTDIR", help="write annotated images / mp4 videos into OUTDIR")
    parser.add_argument("--explain", action="store_true", help="overlay Grad-CAM heat maps in the annotated output")
    parser.add_argument("--box-only", action="store_true",
                        help="draw each face's box and label only in the annotated output, without probability panels")
    add_pipeline_options(parser, "CPU threads for the model (default: as many as the machine has cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Check the flags, predict every input and print a one-line summary; the exit status says how it went."""
    from pcnn_fer.inference.draw import Annotator
    from pcnn_fer.inference.pipeline import (
        PredictionInterrupted,
        PredictOptions,
        expand_inputs,
        run_predictions,
        webcam_input,
    )
    from pcnn_fer.inference.recognizer import Recognizer
    from pcnn_fer.inference.writers import RecordWriter

    if args.explain and not args.annotate:
        raise ValueError("--explain draws heat maps into the annotated output: give --annotate OUTDIR too")
    if args.box_only and not args.annotate:
        raise ValueError("--box-only applies to the annotated output: give --annotate OUTDIR too")
    check_pipeline_options(args)
    if not args.paths and args.webcam is None:
        raise ValueError("give at least one PATH, or --webcam [INDEX]")
    inputs = expand_inputs(args.paths) + ([] if args.webcam is None else [webcam_input(args.webcam)])
    if not inputs:
        print("pcnn-fer predict: no images or videos found in the given paths", file=sys.stderr)
        return EXIT_NONE_PROCESSED
    options = PredictOptions(**predict_options(args, realtime=args.realtime, show_progress=not args.quiet))
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)  # the process's own count, set once here (onnxruntime's below)
    recognizer = Recognizer.from_pretrained(args.model, threads=args.threads, show_progress=not args.quiet,
                                            **recognizer_options(args))
    records_partial: Path | None = None
    try:
        with contextlib.ExitStack() as outputs:
            stream, records_partial = _record_stream(args.output, outputs) if args.output else (sys.stdout, None)
            writer = RecordWriter(stream, args.format, recognizer.class_names)
            annotator = (Annotator(args.annotate, explain=args.explain, panels=not args.box_only) if args.annotate
                         else None)
            summary = run_predictions(recognizer, inputs, writer, annotator, options)
    except PredictionInterrupted as stop:
        unfinished = [*stop.unfinished, *([records_partial] if records_partial else [])]
        print(_interruption_line(stop, len(inputs), unfinished), file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.quiet:
        print(f"pcnn-fer predict: {len(inputs)} input(s): {summary.ok} processed, {summary.failed} failed, "
              f"{summary.faces} face record(s)"
              + (f", {summary.skipped_frames} video frame(s) skipped to keep up" if summary.skipped_frames else ""),
              file=sys.stderr)
    if not summary.ok:
        return EXIT_NONE_PROCESSED
    return EXIT_SOME_FAILED if summary.failed else 0


def _record_stream(output: str, outputs: contextlib.ExitStack) -> tuple[TextIO, Path | None]:
    """The stream the records go to, and the partial file behind it: FILE's partial name, claimed against other
    runs, renamed onto FILE when the run is done and kept under its name when the run is interrupted.

    A FILE that exists and is no regular file (a pipe, /dev/stdout) is written in place: it cannot be renamed onto.
    """
    from pcnn_fer.atomic import atomic_path

    target = Path(output)
    if target.exists() and not target.is_file():
        return outputs.enter_context(open(target, "w", newline="")), None
    partial = outputs.enter_context(atomic_path(target, exclusive=True, keep_interrupted=True))
    return outputs.enter_context(open(partial, "w", newline="")), partial


def _interruption_line(stop: PredictionInterrupted, total: int, unfinished: list[Path]) -> str:
    """Where an interrupted run stopped, what it had done, and which files it left unfinished."""
    done = stop.summary.ok + stop.summary.failed
    where = f" in {stop.current}" if stop.current else ""
    if stop.frames is not None:
        where += f" after {stop.frames} processed frame(s)"
    left = f"; unfinished: {', '.join(map(str, unfinished))}" if unfinished else ""
    return (f"pcnn-fer predict: interrupted{where}; {done} of {total} input(s) done: {stop.summary.ok} processed, "
            f"{stop.summary.failed} failed, {stop.summary.faces} face record(s){left}")
