"""`pcnn-fer export --model DIR --format onnx --output FILE`: the model for onnxruntime, checked against torch."""

from __future__ import annotations

import argparse

from pcnn_fer.cli.model_option import add_model_option


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `export` command and its flags."""
    parser = subparsers.add_parser(
        "export", help="export a model to ONNX",
        description="Export a model to ONNX with a dynamic batch axis, its config and a fingerprint of "
                    "its weights in the file's metadata, then compare onnxruntime's logits with torch's on random "
                    "input. Save the file as DIR/model.onnx for `pcnn-fer predict --backend onnx` to use it.")
    add_model_option(parser)
    parser.add_argument("--format", choices=["onnx"], default="onnx", help="export format (default: onnx)")
    parser.add_argument("--output", required=True, metavar="FILE", help="where to write the exported model")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the exporter's native one)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Export, check onnxruntime against torch, and say how close they are."""
    from pcnn_fer.inference.onnx import DEFAULT_OPSET, OnnxModel, check_parity, export_onnx
    from pcnn_fer.models.storage import load_model

    model = load_model(args.model)
    opset = args.opset or DEFAULT_OPSET
    path = export_onnx(model, args.output, opset=opset)
    difference = check_parity(model, OnnxModel(path), str(path))
    size = model.config.input_size
    print(f"wrote {path} (opset {opset}, dynamic batch, input 3x{size}x{size}); "
          f"max |logit difference| vs torch on 2 random inputs: {difference:.2e}")
    return 0
