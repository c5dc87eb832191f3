"""`pcnn-fer report RECORDS... --output DIR`: per-person timelines of the videos in records files."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `report` command and its flags."""
    parser = subparsers.add_parser(
        "report", help="timelines of each tracked person in video records",
        description="Read the records that `predict` (JSON lines or CSV) or `corpus` (a folder of shards) wrote "
                    "for videos, and write for each tracked person a timeline plot (the probability of each "
                    "expression over time, the label band under it) and a CSV summary (share of time in each "
                    "expression, mean probability, longest spell), with one HTML page showing them all.")
    parser.add_argument("records", nargs="+", metavar="RECORDS", help="records file, or a folder of shards")
    parser.add_argument("--output", required=True, metavar="DIR", help="where the page, plots and CSVs go")
    parser.add_argument("--annotated", metavar="DIR",
                        help="the folder `predict --annotate` wrote into: each video's annotated copy is shown "
                             "on the page, and a click on a timeline plays it from there")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the report and say where it is."""
    from pcnn_fer.report.build import write_report

    report = write_report(args.records, args.output, args.annotated, show_progress=not args.quiet)
    if not args.quiet:
        shown = sum(copy is not None for copy in report.videos.values())
        print(f"pcnn-fer report: {len(report.people)} tracked person(s) in {len(report.videos)} video(s)"
              + (f", {shown} with its annotated copy" if args.annotated else "") + f"; open {report.page}",
              file=sys.stderr)
    return 0
