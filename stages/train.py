"""DVC stage ``train_*@fold``: train one fold's model of a training stage."""

from __future__ import annotations

import argparse
import sys

from stages.common import run_stage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage", required=True, help="params block of the training stage")
    parser.add_argument("--fold", type=int, default=None,
                        help="validation fold (none: the action pre-training stage)")
    parser.add_argument("--out", required=True, help="model directory to write")
    parser.add_argument("--live", required=True, help="dvclive directory (metrics and plots)")
    parser.add_argument("--checkpoints", default=None,
                        help="resume checkpoints (default: models/checkpoints/<stage>/fold_<k>)")
    parser.add_argument("--init", default=None, help="model directory to start from")
    parser.add_argument("--oof", default=None,
                        help="out-of-fold predictions folder for hard-negative sampling")


def main(args: argparse.Namespace) -> None:
    from ballspot.pipeline.training import stage_config, train_fold
    from ballspot.train import distributed

    processes = stage_config(args.params_data, args.stage, args.params).ddp_processes
    if processes > 1 and not distributed.under_torchrun():
        # DDP: this same command again, once per process, under torchrun (one per GPU)
        sys.exit(distributed.relaunch_with_torchrun(processes,
                                                    ["-m", "stages.train", *sys.argv[1:]]))
    where = "all" if args.fold is None else f"fold_{args.fold}"
    checkpoints = args.checkpoints or f"models/checkpoints/{args.stage}/{where}"
    train_fold(args.params_data, args.stage, args.fold, args.out, args.live, checkpoints,
               init=args.init, oof=args.oof)


if __name__ == "__main__":
    run_stage(main, __doc__, add_arguments)
