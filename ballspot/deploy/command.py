"""``ballspot export``: its arguments, apart from :mod:`ballspot.deploy.onnx` (which imports
torch), so that building the CLI's parser stays quick."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ballspot.core.errors import BallspotError


def _export_command(args: argparse.Namespace) -> None:
    from ballspot.deploy.onnx import CONFIG_FILE, ENCODER_FILE, HEAD_FILE, export_onnx

    if args.format != "onnx":
        raise BallspotError(None, f"--format must be onnx, got {args.format!r}")
    out = Path(args.out) if args.out else Path(args.model_dir).with_name(
        Path(args.model_dir).name + "_onnx")
    export_onnx(args.model_dir, out)
    print(f"export: {ENCODER_FILE}, {HEAD_FILE} and {CONFIG_FILE} -> {out}", file=sys.stderr)


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``ballspot export``."""
    cmd = commands.add_parser("export", help="export a model folder for deployment (ONNX)")
    cmd.add_argument("model_dir", help="a model folder (model.safetensors + model.yaml)")
    cmd.add_argument("--format", default="onnx", help="onnx (the only format)")
    cmd.add_argument("--out", default=None, help="output folder (default <model_dir>_onnx)")
    cmd.set_defaults(func=_export_command)
