"""`pcnn-fer export --model DIR --format onnx --output FILE`: the model for onnxruntime, checked against torch."""

from __future__ import annotations

import argparse

from pcnn_fer.inference.onnx import DEFAULT_OPSET

PARITY_TOLERANCE = 1e-4


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="export a model to ONNX",
        description="Export a model directory to ONNX with a dynamic batch axis, its config in the file's "
                    "metadata, then compare onnxruntime's logits with torch's on random input. Save the file as "
                    "DIR/model.onnx for `pcnn-fer predict --backend onnx` to use it.")
    parser.add_argument("--model", required=True, metavar="DIR",
                        help="model directory (config.json + model.safetensors)")
    parser.add_argument("--format", choices=["onnx"], default="onnx", help="export format (default: onnx)")
    parser.add_argument("--output", required=True, metavar="FILE", help="where to write the exported model")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default: {DEFAULT_OPSET})")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from pcnn_fer.inference.onnx import OnnxModel, export_onnx
    from pcnn_fer.weights.store import load_model

    model = load_model(args.model)
    path = export_onnx(model, args.output, opset=args.opset)
    size = model.config.input_size
    images = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = model(images).logits
    difference = float((OnnxModel(path)(images).logits - expected).abs().max())
    print(f"wrote {path} (opset {args.opset}, dynamic batch, input 3x{size}x{size}); "
          f"max |logit difference| vs torch on 2 random inputs: {difference:.2e}")
    if difference > PARITY_TOLERANCE:
        raise RuntimeError(f"{path}: onnxruntime logits differ from torch by {difference:.2e} "
                           f"(> {PARITY_TOLERANCE:g}); do not use this export")
    return 0
