"""DVC stage ``score_challenge``: the submission zip scored against the hidden challenge labels.

Only the built-in synthetic games have such labels (kept outside the dataset, never read by
training); with the real data the folder is empty and the metrics say so.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stages.common import run_stage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--labels", required=True, help="hidden labels root (<game>/<label file>)")
    parser.add_argument("--submission", required=True, help="submission zip")
    parser.add_argument("--metrics", required=True, help="metrics JSON to write")
    parser.add_argument("--predictions", default=None,
                        help="the ensemble's <game>/<half>_raw_predictions.npz folder, for the "
                             "chance level on the same frames")


def main(args: argparse.Namespace) -> None:
    from ballspot.atomic import write_json
    from ballspot.baseline import chance_level
    from ballspot.pipeline import score_games
    from ballspot.soccernet import DatasetSpec

    spec = DatasetSpec.from_params(args.params_data["dataset"])
    labelled = [g for g in spec.challenge
                if (Path(args.labels) / g / spec.label_file).is_file()]
    if not labelled:
        write_json(args.metrics, {"challenge": {"scored": False}})
        print("score_challenge: no hidden labels (real challenge games are scored by the server)")
        return
    metric = args.params_data.get("evaluate", {}).get("metric", "at1")
    scores = score_games(spec, args.labels, args.submission, labelled, metric)
    metrics = {"challenge": scores}
    if args.predictions is not None:
        chance = chance_level(args.params_data, {args.predictions: labelled}, args.labels,
                              labelled)
        if chance is not None:
            metrics["chance"] = chance
    write_json(args.metrics, metrics)
    chance = f" (chance {metrics['chance']['mAP']:.4f})" if "chance" in metrics else ""
    print(f"score_challenge: challenge mAP {scores['mAP']:.4f}{chance} over {len(labelled)} games")


if __name__ == "__main__":
    run_stage(main, __doc__, add_arguments)
