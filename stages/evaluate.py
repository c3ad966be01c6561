"""DVC stage ``evaluate_*``: post-process out-of-fold predictions, score per fold, CV and test,
and the chance level of random scores on the same frames (``evaluate.chance_draws``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from stages.common import run_stage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--predictions", required=True, help="folder of fold_<k>/ predictions")
    parser.add_argument("--results", required=True, help="results_spotting.json folder to write")
    parser.add_argument("--metrics", required=True, help="metrics JSON to write")


def main(args: argparse.Namespace) -> None:
    from ballspot.atomic import write_json
    from ballspot.baseline import chance_level
    from ballspot.pipeline import evaluate_folds
    from ballspot.soccernet import DatasetSpec

    metrics = evaluate_folds(args.params_data, args.predictions, args.results, args.metrics)
    settings = args.params_data.get("evaluate", {})
    if int(settings.get("chance_draws", 0)) > 0:
        spec = DatasetSpec.from_params(args.params_data["dataset"])
        folds = {Path(args.predictions) / f"fold_{k}": games for k, games in enumerate(spec.folds)}
        metrics["chance"] = chance_level(args.params_data, folds, spec.task_dir,
                                         spec.labelled_games, int(settings["chance_draws"]),
                                         int(settings.get("chance_seed", 0)))
        write_json(args.metrics, metrics)
    print("evaluate: " + ", ".join(f"{k} mAP {v['mAP']:.4f}" for k, v in metrics.items()))


if __name__ == "__main__":
    run_stage(main, __doc__, add_arguments)
