"""DVC stage ``predict_*@fold``: raw per-frame predictions of a fold model on its games."""

from __future__ import annotations

import argparse

from stages.common import run_stage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model directory")
    parser.add_argument("--fold", type=int, default=None,
                        help="predict this fold's held-out games (out-of-fold)")
    parser.add_argument("--challenge", action="store_true", help="predict the challenge games")
    parser.add_argument("--out", required=True, help="output folder (<game>/<half>_raw_...npz)")


def main(args: argparse.Namespace) -> None:
    from ballspot.core.errors import BallspotError
    from ballspot.data.soccernet import DatasetSpec
    from ballspot.pipeline.prediction import predict_games

    spec = DatasetSpec.from_params(args.params_data["dataset"])
    if args.challenge == (args.fold is not None):
        raise BallspotError(None, "give exactly one of --fold and --challenge")
    games = list(spec.challenge) if args.challenge else list(spec.folds[args.fold])
    predict_games(args.model, spec, games, args.out, args.params_data["predict"])


if __name__ == "__main__":
    run_stage(main, __doc__, add_arguments)
