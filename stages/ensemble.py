"""DVC stage ``ensemble``: the mean of every fold model's challenge predictions, post-processed."""

from __future__ import annotations

import argparse

from stages.common import run_stage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--predictions", required=True,
                        help="folder of fold_<k>/<game>/<half>_raw_predictions.npz")
    parser.add_argument("--out", required=True, help="ensemble folder to write (<game>/...)")


def main(args: argparse.Namespace) -> None:
    from ballspot.data.soccernet import DatasetSpec
    from ballspot.predict.ensemble import ensemble_games, model_folders
    from ballspot.predict.postprocess import PostprocessParams

    spec = DatasetSpec.from_params(args.params_data["dataset"])
    folds = model_folders(args.predictions, len(spec.folds))
    ensemble_games(spec, folds, spec.challenge, args.out,
                   PostprocessParams.from_params(args.params_data["postprocess"]))
    print(f"ensemble: {len(folds)} fold models over {len(spec.challenge)} challenge games")


if __name__ == "__main__":
    run_stage(main, __doc__, add_arguments)
