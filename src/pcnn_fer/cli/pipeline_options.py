"""The flags of the recognition pipeline, one spelling for `predict` and `corpus`: which model and detector, how
videos are read, and how many threads run the model."""

from __future__ import annotations

import argparse

from pcnn_fer.cli.model_option import add_model_option
from pcnn_fer.data.formats import DEFAULT_MAX_PIXELS
from pcnn_fer.faces.registry import DEFAULT_DETECTOR, detector_names
from pcnn_fer.inference.backends import BACKEND_CHOICES

BACKEND_HELP = ("auto (onnxruntime on the CPU from an export of exactly these weights, a shipped model exported "
                "once on first use; torch otherwise), torch, or onnx (onnxruntime, insisting on it); Grad-CAM "
                "always runs in torch")


def add_pipeline_options(parser: argparse.ArgumentParser, threads_help: str) -> None:
    """Add the model, detector, video and batching flags; `threads_help` says what --threads counts."""
    add_model_option(parser)
    parser.add_argument("--detector", choices=detector_names(), default=DEFAULT_DETECTOR,
                        help="face detector: mtcnn, auto (BlazeFace, MTCNN on an image where it finds none; about ten "
                             "times faster), blazeface, haar, or none (each image taken as an aligned face crop) "
                             f"(default: {DEFAULT_DETECTOR})")
    parser.add_argument("--min-score", type=float, default=None, metavar="S",
                        help="drop detections scored below S (mtcnn: face probability, e.g. 0.9)")
    parser.add_argument("--detect-every", type=int, default=5, metavar="N",
                        help="videos: search faces every Nth processed frame and follow them in between "
                             "(1: a full search on every frame; default: 5)")
    parser.add_argument("--detect-side", type=int, default=480, metavar="PX",
                        help="videos: search faces on a copy of the frame at most PX pixels long (0: full size; "
                             "default: 480)")
    parser.add_argument("--every", type=int, default=1, metavar="N",
                        help="videos: process every Nth frame (default: 1)")
    parser.add_argument("--smooth", type=float, nargs="?", const=0.5, default=None, metavar="ALPHA",
                        help="videos: smooth each tracked face's probabilities over time; ALPHA is the weight "
                             "of the newest frame (default when given: 0.5)")
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default="auto",
                        help=f"who runs the model: {BACKEND_HELP} (default: auto)")
    parser.add_argument("--export-onnx", action="store_true",
                        help="export the model to ONNX first when it has no export or a stale one (tens of "
                             "seconds, once; kept for later runs), so that auto or onnx run it in onnxruntime")
    parser.add_argument("--flip-tta", action="store_true", help="average each face with its mirror image")
    add_prior_correction_option(parser)
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                        help=f"refuse images larger than N pixels (default: {DEFAULT_MAX_PIXELS:,})")
    parser.add_argument("--batch-size", type=int, default=8, metavar="N",
                        help="images (or video frames) per batch (default: 8)")
    parser.add_argument("--device", default="cpu", help="torch device: auto, cpu, cuda, cuda:N (default: cpu)")
    parser.add_argument("--threads", type=int, default=None, metavar="N", help=threads_help)


def add_prior_correction_option(parser: argparse.ArgumentParser) -> None:
    """--prior-correction W, one spelling for every command that turns logits into predictions."""
    parser.add_argument("--prior-correction", type=float, default=None, metavar="W",
                        help="weight W of the shift away from the training data's class prior: probabilities "
                             "softmax(logits / T - W * log prior); 0 keeps the prior the model learnt (FERPlus: 36 %% "
                             "neutral, 0.5 %% disgust), 1 treats every expression as equally likely a priori "
                             "(default: the weight fitted on validation that the model's metadata keeps, 0 without "
                             "one)")


def check_pipeline_options(args: argparse.Namespace) -> None:
    """Refuse values out of range, naming the flag (PredictOptions checks them too, in its own words)."""
    if min(args.every, args.batch_size, args.detect_every, 1 if args.threads is None else args.threads) < 1:
        raise ValueError("--every, --batch-size, --detect-every and --threads must be at least 1")
    if args.prior_correction is not None and args.prior_correction < 0:
        raise ValueError(f"--prior-correction must be 0 or more, got {args.prior_correction}")
    if args.detect_side and args.detect_side < 48:
        raise ValueError(f"--detect-side must be 0 (full frames) or at least 48 pixels, got {args.detect_side}")
    if args.smooth is not None and not 0 < args.smooth <= 1:
        raise ValueError(f"--smooth ALPHA must lie in (0, 1], got {args.smooth}")


def recognizer_options(args: argparse.Namespace) -> dict:
    """Recognizer.from_pretrained's keyword arguments from the flags (the model and threads apart)."""
    return {"detector": args.detector, "backend": args.backend, "device": args.device, "flip_tta": args.flip_tta,
            "max_pixels": args.max_pixels, "min_score": args.min_score, "export_onnx": args.export_onnx,
            "prior_correction": args.prior_correction}


def predict_options(args: argparse.Namespace, **more) -> dict:
    """PredictOptions' fields from the flags, with `more` (such as realtime or show_progress)."""
    return {"every": args.every, "batch_size": args.batch_size, "smooth": args.smooth,
            "detect_every": args.detect_every, "detect_side": args.detect_side or None, **more}
