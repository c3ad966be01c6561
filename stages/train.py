"""DVC stage ``train_*@fold``: train one fold's model of a training stage."""

from __future__ import annotations

import argparse

from stages.common import run_stage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage", required=True, help="params block of the training stage")
    parser.add_argument("--fold", type=int, required=True, help="validation fold")
    parser.add_argument("--out", required=True, help="model directory to write")
    parser.add_argument("--live", required=True, help="dvclive directory (metrics and plots)")
    parser.add_argument("--checkpoints", default=None,
                        help="resume checkpoints (default: models/checkpoints/<stage>/fold_<k>)")


def main(args: argparse.Namespace) -> None:
    from ballspot.pipeline import train_fold

    checkpoints = args.checkpoints or f"models/checkpoints/{args.stage}/fold_{args.fold}"
    train_fold(args.params_data, args.stage, args.fold, args.out, args.live, checkpoints)


if __name__ == "__main__":
    run_stage(main, __doc__, add_arguments)
