"""DVC stage ``data``: the synthetic matches or the official SoccerNet download."""

from __future__ import annotations

import argparse

from stages.common import run_stage


def main(args: argparse.Namespace) -> None:
    from ballspot.pipeline.preparation import prepare_data

    summary = prepare_data(args.params_data)
    ball = summary["ball"]
    print(f"data: {ball['games']} ball games, {ball['frames']} frames, events {ball['events']}")


if __name__ == "__main__":
    run_stage(main, __doc__)
