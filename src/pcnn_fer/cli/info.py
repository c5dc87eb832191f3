"""`pcnn-fer info VARIANT`: what a variant is made of and what it costs."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `info` command and its flags."""
    parser = subparsers.add_parser("info", help="parameters, MACs and structure of a model variant",
                                   description="Parameters used, MACs at the input size, trunk/stage split and "
                                               "a per-part parameter breakdown of a registered variant.")
    # Checked against the registry when the command runs, so that building the parser imports no torch.
    parser.add_argument("variant", help="a registered variant, e.g. pcnn_r18 or pcnn_mbv2")
    parser.add_argument("--num-classes", type=int, default=7, help="number of classes (default: 7)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print what the variant is made of and what it costs."""
    from pcnn_fer.models import count_parameters, create_model, get_backbone
    from pcnn_fer.models.complexity import count_macs, parameters_by_part

    model = create_model(args.variant, num_classes=args.num_classes)
    config = model.config
    total = count_parameters(model)
    switches = ", ".join(f"{name} {'on' if getattr(config, name) else 'off'}" for name in ("organs", "fusion", "stn"))
    print(f"{args.variant}: {config.num_classes} classes, input {config.input_size}x{config.input_size} RGB")
    print(f"backbone: {config.backbone}: {get_backbone(config.backbone).description}")
    print(f"switches: {switches}")
    print(f"parameters: {total:,} ({total / 1e6:.2f} M)")
    print(f"MACs at {config.input_size}x{config.input_size}: {count_macs(model, config.input_size) / 1e9:.2f} G")
    print("parameters by part:")
    for part, count in parameters_by_part(model).items():
        print(f"  {part:<14} {count:>12,}  {100 * count / total:5.1f}%")
    return 0
