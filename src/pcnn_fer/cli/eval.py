"""`pcnn-fer eval`: score a model (or every fold of a cross-validation run) on a dataset and its challenge subsets."""

from __future__ import annotations

import argparse
from pathlib import Path

from pcnn_fer.cli.model_option import add_model_option
from pcnn_fer.cli.pipeline_options import add_prior_correction_option
from pcnn_fer.engine.challenge_subsets import SUBSETS
from pcnn_fer.engine.config import AMP_MODES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `eval` command and its flags."""
    parser = subparsers.add_parser(
        "eval", help="evaluate a model or a run directory on a dataset, its subsets, or another dataset",
        description="Accuracy, mean class accuracy, macro-F1, per-class precision/recall, confusion matrices and "
                    "the main head's calibration (ECE, NLL, reliability diagram). "
                    "--model is a shipped model's name, a model directory, a run directory (its selected model) "
                    "or a cross-validation run (each fold's model on that fold's test part, then mean ± std). "
                    "Another dataset than the training one is compared through canonical class names.")
    add_model_option(parser, extra=", or a cross-validation run (every fold)")
    parser.add_argument("--dataset", required=True, help="dataset reader name (rafdb, ferplus, ..., folder)")
    parser.add_argument("--data-root", required=True, type=Path, help="dataset directory")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="reader option, e.g. mode=majority (repeatable); a cross-validation run on its own "
                             "dataset is read with the run's options")
    parser.add_argument("--split", default="test", help="official split to score: train, val, test or all "
                                                        "(default: test)")
    parser.add_argument("--subset", action="append", default=[], metavar="NAME=LIST[,LABELS]",
                        help=f"challenge subset, repeatable; NAME one of {', '.join(SUBSETS)}")
    parser.add_argument("--paper-rows", type=Path, metavar="LISTS",
                        help="score the PCNN paper's rows for --dataset (ferplus: Test with the fer2013new.csv "
                             "majority, the argmax-of-votes protocol, Occlusion, Pose>30 and Pose>45 with the "
                             "label.csv majority the lists carry) beside the paper's figures; LISTS is the folder "
                             "holding the published challenge lists (ferplus/, rafdb/)")
    parser.add_argument("--flip-tta", action="store_true", help="average with the horizontally flipped image")
    add_prior_correction_option(parser)
    parser.add_argument("--calibrate-on", metavar="SPLIT",
                        help="fit the softmax temperature on this official split of the dataset (e.g. val) and "
                             "report the calibration error before and after on the scored split; without it, a "
                             "temperature kept in the model's metadata (training fits one on val) is used")
    parser.add_argument("--organ-weight", type=float, default=0.0, metavar="W",
                        help="also score logits + W * organ_logits, reported separately")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", choices=AMP_MODES, default="none")
    parser.add_argument("--skip-bad", action="store_true",
                        help="skip unreadable samples and report how many (a cross-validation run on its own "
                             "dataset follows the run's data.skip_bad)")
    parser.add_argument("--output", type=Path,
                        help="where metrics and confusion matrices go (default: MODEL/eval-DATASET-SPLIT, for a "
                             "shipped model ./eval-NAME/eval-DATASET-SPLIT; --paper-rows: eval-DATASET-paper-rows)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Score the model or run, print the table and where the metrics and plots went."""
    from pcnn_fer.data.datasets import parse_reader_options
    from pcnn_fer.devices import resolve_device
    from pcnn_fer.engine.challenge_subsets import read_subset
    from pcnn_fer.engine.distributed import DistContext
    from pcnn_fer.engine.evaluate import EvalOptions
    from pcnn_fer.engine.reporting import format_table
    from pcnn_fer.engine.run_eval import ROW_COLUMNS, EvalRequest, evaluate_run
    from pcnn_fer.models.pretrained import Pretrained

    if args.paper_rows is not None:
        return _paper_rows(args)
    subsets = tuple(read_subset(spec) for spec in args.subset)  # bad specs fail before anything is loaded
    request = EvalRequest(model=args.model or Pretrained.DEFAULT.name, dataset=args.dataset, data_root=args.data_root,
                          reader_options=parse_reader_options(args.dataset, args.option), split=args.split,
                          subsets=subsets,
                          calibrate_on=args.calibrate_on, skip_bad=args.skip_bad, output=args.output)
    options = EvalOptions(batch_size=args.batch_size, workers=args.workers, flip_tta=args.flip_tta,
                          organ_weight=args.organ_weight, amp=args.amp, channels_last=True,
                          show_progress=not args.quiet, prior_weight=args.prior_correction)
    evaluation = evaluate_run(request, options, DistContext(device=resolve_device(args.device)))
    print(format_table(evaluation.rows, ROW_COLUMNS))
    for note in evaluation.notes:
        print(note)
    for name, (mean, std, folds) in evaluation.across_folds().items():
        print(f"{name}: accuracy {mean:.4f} ± {std:.4f} over {folds} folds")
    print(f"metrics, confusion matrices and reliability diagrams: {evaluation.output}")
    return 0


def _paper_rows(args: argparse.Namespace) -> int:
    """`--paper-rows`: the paper's rows for the dataset, printed beside its figures and written as JSON."""
    import json

    from pcnn_fer.atomic import write_text
    from pcnn_fer.devices import resolve_device
    from pcnn_fer.engine.distributed import DistContext
    from pcnn_fer.engine.evaluate import EvalOptions
    from pcnn_fer.engine.paper_rows import score_paper_rows
    from pcnn_fer.engine.reporting import format_table
    from pcnn_fer.models.storage import load_model
    context = DistContext(device=resolve_device(args.device))
    options = EvalOptions(batch_size=args.batch_size, workers=args.workers, flip_tta=args.flip_tta, amp=args.amp,
                          show_progress=not args.quiet, prior_weight=args.prior_correction)
    rows = score_paper_rows(load_model(args.model, device=context.device), args.dataset, args.data_root,
                            args.paper_rows, options, context)
    print(format_table(rows, ("row", "faces", "accuracy", "mean_class_accuracy", "macro_f1", "paper")))
    output = (args.output or Path(f"eval-{args.dataset}-paper-rows")) / "rows.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    write_text(output, json.dumps(rows, indent=1))
    print(f"per-class recall and every figure: {output}")
    return 0
