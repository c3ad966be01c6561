"""DVC stage ``evaluate_*``: post-process out-of-fold predictions, score per fold, CV and test,
and the chance level of random scores on the same frames (``evaluate.chance_draws``)."""

from __future__ import annotations

import argparse

from stages.common import run_stage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--predictions", required=True, help="folder of fold_<k>/ predictions")
    parser.add_argument("--results", required=True, help="results_spotting.json folder to write")
    parser.add_argument("--metrics", required=True, help="metrics JSON to write")


def main(args: argparse.Namespace) -> None:
    from ballspot.pipeline.evaluation import evaluate_folds

    metrics = evaluate_folds(args.params_data, args.predictions, args.results, args.metrics)
    print("evaluate: " + ", ".join(f"{k} mAP {v['mAP']:.4f}" for k, v in metrics.items()))


if __name__ == "__main__":
    run_stage(main, __doc__, add_arguments)
