"""`pcnn-fer corpus PATH... --output DIR`: the records of a whole corpus of photos and videos, on Ray.

The same records as `predict` (same flags, same pipeline), written as shards into DIR by a pool of workers on a
local Ray or a cluster; running the same command again resumes a run that was cut off.
"""

from __future__ import annotations

import argparse
import sys

from pcnn_fer.cli.main import EXIT_INTERRUPTED
from pcnn_fer.cli.pipeline_options import (
    add_pipeline_options,
    check_pipeline_options,
    predict_options,
    recognizer_options,
)
from pcnn_fer.cli.predict import EXIT_NONE_PROCESSED, EXIT_SOME_FAILED
from pcnn_fer.inference.writers import FILE_FORMATS


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `corpus` command and its flags."""
    parser = subparsers.add_parser(
        "corpus", help="facial expressions over a whole corpus, on Ray",
        description="Detect, align and recognise every face in a corpus of photos and videos on Ray: a pool of "
                    "workers, each loading the model once, writes the records (those of `predict`) as shards "
                    "into DIR, one per finished task (a video, or a batch of photos). Running the same command "
                    "again resumes: inputs already written are skipped. Needs the cluster extra: "
                    'pip install "pcnn-fer[cluster]".',
        epilog=f"Exit status: 0 when every input was processed; {EXIT_SOME_FAILED} when some failed (their error "
               f"records say why) or were lost to workers that never finished them (run again to retry); "
               f"{EXIT_NONE_PROCESSED} when none could be processed; {EXIT_INTERRUPTED} when interrupted (the "
               f"shards written stay: run again to resume).")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image, video, folder or glob pattern")
    parser.add_argument("--output", required=True, metavar="DIR",
                        help="folder of the run: its settings (run.json) and one records shard per finished task")
    parser.add_argument("--format", choices=FILE_FORMATS, default=FILE_FORMATS[0],
                        help=f"shard format (default: {FILE_FORMATS[0]}; parquet has the columns of csv)")
    parser.add_argument("--ray", nargs="?", const="auto", default=None, metavar="ADDRESS",
                        help="join a running Ray cluster: auto (default when given: the one this machine belongs "
                             "to, an error if there is none) or ray://HOST:PORT; without it, the Ray that RAY_ADDRESS "
                             "names or `ray start` runs on this machine, else a local Ray started for the run. Every "
                             "node must see the inputs and DIR under the same paths")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="worker processes, each loading the model once (default: the cluster's CPUs divided "
                             "by --threads)")
    parser.add_argument("--photos-per-task", type=int, default=16, metavar="N",
                        help="photos a worker takes at a time, and so per shard (default: 16); each video is a "
                             "task of its own")
    add_pipeline_options(parser, "CPU threads per worker (default: 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Check the flags, run the corpus and print its summary; the exit status says how it went."""
    from pcnn_fer.cluster.run import predict_corpus
    from pcnn_fer.inference.pipeline import PredictOptions, expand_inputs

    check_pipeline_options(args)
    if args.workers is not None and args.workers < 1 or args.photos_per_task < 1:
        raise ValueError("--workers and --photos-per-task must be at least 1")
    inputs = expand_inputs(args.paths)
    if not inputs:
        print("pcnn-fer corpus: no images or videos found in the given paths", file=sys.stderr)
        return EXIT_NONE_PROCESSED
    try:
        summary = predict_corpus(
            inputs, args.output, model=args.model, recognizer_options=recognizer_options(args),
            options=PredictOptions(**predict_options(args)), fmt=args.format, address=args.ray,
            workers=args.workers, threads=args.threads or 1, photos_per_task=args.photos_per_task,
            show_progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"pcnn-fer corpus: interrupted; the shards written stay in {args.output}: run the same command again "
              f"to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.quiet:
        print(f"pcnn-fer corpus: {summary.line()}; records in {args.output}", file=sys.stderr)
    if summary.ok + summary.skipped == 0:
        return EXIT_NONE_PROCESSED
    return EXIT_SOME_FAILED if summary.failed or summary.lost else 0
