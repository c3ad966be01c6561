"""DVC stage ``score_challenge``: the submission zip scored against the hidden challenge labels.

Only the built-in synthetic games have such labels (kept outside the dataset, never read by
training); with the real data the folder is empty and the metrics say so.
"""

from __future__ import annotations

import argparse

from stages.common import run_stage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--labels", required=True, help="hidden labels root (<game>/<label file>)")
    parser.add_argument("--submission", required=True, help="submission zip")
    parser.add_argument("--metrics", required=True, help="metrics JSON to write")
    parser.add_argument("--predictions", default=None,
                        help="the ensemble's <game>/<half>_raw_predictions.npz folder, for the "
                             "chance level on the same frames")


def main(args: argparse.Namespace) -> None:
    from ballspot.pipeline.evaluation import score_challenge

    metrics, games = score_challenge(args.params_data, args.labels, args.submission,
                                     args.predictions, args.metrics)
    if not games:
        print("score_challenge: no hidden labels (real challenge games are scored by the server)")
        return
    chance = f" (chance {metrics['chance']['mAP']:.4f})" if "chance" in metrics else ""
    print(f"score_challenge: challenge mAP {metrics['challenge']['mAP']:.4f}{chance} "
          f"over {games} games")


if __name__ == "__main__":
    run_stage(main, __doc__, add_arguments)
