"""`pcnn-fer serve`: the HTTP API and web page (FastAPI + uvicorn, from the `serve` extra)."""

from __future__ import annotations

import argparse
import importlib
import os
from pathlib import Path

from pcnn_fer.cli.model_option import add_model_option
from pcnn_fer.cli.pipeline_options import BACKEND_HELP, add_prior_correction_option
from pcnn_fer.inference.backends import BACKEND_CHOICES
from pcnn_fer.serve.settings import ServeSettings  # torch- and FastAPI-free: its defaults are the flags'

DEFAULTS = ServeSettings()
MEGABYTE = 1024 * 1024
SERVE_PACKAGES = ("fastapi", "uvicorn", "python_multipart", "prometheus_client")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `serve` command and its flags."""
    parser = subparsers.add_parser(
        "serve", help="serve the model over HTTP: /v1/analyze, a web page at /, API docs at /docs",
        description="An HTTP server that batches every client's faces on their way into the model. "
                    "Needs the serve extra: pip install 'pcnn-fer[serve]'.")
    add_model_option(parser)
    parser.add_argument("--detector", default=DEFAULTS.detector, help=f"face detector (default: {DEFAULTS.detector})")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument("--token-file", type=Path, default=None,
                        help="file holding the bearer token that every /v1/ request must carry")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes, each with its own model (default: 1)")
    parser.add_argument("--threads", type=int, default=DEFAULTS.threads,
                        help="torch's CPU threads in each server process (default: torch's own choice)")
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default=DEFAULTS.backend,
                        help=f"who runs the model: {BACKEND_HELP} (default: {DEFAULTS.backend})")
    parser.add_argument("--flip-tta", action="store_true", help="average each face with its mirror image by default")
    add_prior_correction_option(parser)
    parser.add_argument("--max-upload-mb", type=float, default=DEFAULTS.max_upload_bytes / MEGABYTE,
                        help="photo upload cap per request (default: %(default)g)")
    parser.add_argument("--max-video-mb", type=float, default=DEFAULTS.max_video_bytes / MEGABYTE,
                        help="video upload cap (default: %(default)g)")
    parser.add_argument("--queue-size", type=int, default=DEFAULTS.queue_size,
                        help="images inside (having faces found or waiting for the model) before requests get 503 "
                             "(default: %(default)s)")
    parser.add_argument("--detect-threads", type=int, default=DEFAULTS.detect_threads,
                        help="threads finding faces at once, each with its own detector (default: one per CPU core)")
    parser.add_argument("--batch-window-ms", type=float, default=DEFAULTS.batch_window_ms,
                        help="how long a batch waits for more images (default: %(default)g)")
    parser.add_argument("--max-batch", type=int, default=DEFAULTS.max_batch,
                        help="images per model call at most (default: %(default)s; 1 answers one image at a time)")
    parser.add_argument("--timeout", type=float, default=DEFAULTS.timeout_s,
                        help="seconds per request before 504 (default: %(default)g)")
    parser.add_argument("--cors-origin", action="append", default=[],
                        help="origin allowed to call the API from a browser (repeatable; default: none)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Load the model and serve it until interrupted."""
    for package in SERVE_PACKAGES:
        try:
            importlib.import_module(package)
        except ImportError as cause:
            raise RuntimeError(f"serving needs the serve extra ({package} is not installed): "
                               f"pip install 'pcnn-fer[serve]'") from cause
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    import uvicorn

    from pcnn_fer.serve.app import create_app, load_recognizer
    from pcnn_fer.serve.settings import SETTINGS_VARIABLE

    token = None
    if args.token_file is not None:
        token = args.token_file.read_text().strip()
        if not token:
            raise ValueError(f"{args.token_file}: the token file is empty")
    settings = ServeSettings(model=args.model, detector=args.detector, backend=args.backend, flip_tta=args.flip_tta,
                             prior_correction=args.prior_correction, threads=args.threads,
                             max_upload_bytes=int(args.max_upload_mb * MEGABYTE),
                             max_video_bytes=int(args.max_video_mb * MEGABYTE), queue_size=args.queue_size,
                             detect_threads=args.detect_threads,
                             batch_window_ms=args.batch_window_ms, max_batch=args.max_batch, timeout_s=args.timeout,
                             token=token, cors_origins=tuple(args.cors_origin))
    if args.workers == 1:
        app = create_app(load_recognizer(settings), settings)
        uvicorn.run(app, host=args.host, port=args.port)
    else:
        # Each worker process builds its own app from the settings left in its environment.
        os.environ[SETTINGS_VARIABLE] = settings.to_environment()
        uvicorn.run("pcnn_fer.serve.app:app_from_environment", factory=True, host=args.host, port=args.port,
                    workers=args.workers)
    return 0
