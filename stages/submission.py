"""DVC stage ``submission``: the challenge zip as the SoccerNet server expects it."""

from __future__ import annotations

import argparse

from stages.common import run_stage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", required=True, help="folder of <game>/results_spotting.json")
    parser.add_argument("--out", required=True, help="zip file to write")


def main(args: argparse.Namespace) -> None:
    from ballspot.data.soccernet import DatasetSpec
    from ballspot.predict.ensemble import write_submission

    spec = DatasetSpec.from_params(args.params_data["dataset"])
    names = write_submission(args.results, spec.challenge, args.out)
    print(f"submission: {args.out} ({len(names)} games)")


if __name__ == "__main__":
    run_stage(main, __doc__, add_arguments)
