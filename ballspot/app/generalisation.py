"""Does the fold ensemble generalise? Score it on games rendered from another seed.

The challenge games share the generator's seed with the games the models trained on; games from
another seed (same generator settings) show whether the models learnt the task or the dataset.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

GAME = "synthetic_league/2030-2031/2030-09-{day:02d} - Seed {seed} Home - Seed {seed} Away"


def fresh_games(seed: int, count: int) -> list[str]:
    """League/season/game names of ``count`` games of ``seed`` (the names seed the play too)."""
    return [GAME.format(day=k + 1, seed=seed) for k in range(count)]


def score_fresh_games(params: Mapping[str, Any], model_dirs: Sequence[str | Path], seed: int,
                      count: int, work_dir: str | Path, progress: bool = True
                      ) -> dict[str, Any]:
    """Render ``count`` labelled games with generator seed ``seed`` (``params``' settings
    otherwise), predict them with each model of ``model_dirs``, blend, post-process and score.

    Returns ``{"seed", "games", "events", "mAP", <class>: AP}``; everything is written under
    ``work_dir``.
    """
    from ballspot.data.soccernet import DatasetSpec
    from ballspot.data.synthetic import SyntheticConfig, generate_ball_dataset
    from ballspot.eval.metric import score_games
    from ballspot.pipeline.prediction import predict_games
    from ballspot.predict.ensemble import ensemble_games
    from ballspot.predict.postprocess import PostprocessParams

    work = Path(work_dir)
    games = fresh_games(seed, count)
    spec = DatasetSpec.from_params({**params["dataset"], "root": str(work / "data"),
                                    "folds": {"0": games}, "test_folds": [], "challenge": []})
    config = dataclasses.replace(SyntheticConfig.from_params(params["data"]["synthetic"]),
                                 seed=seed)
    summary = generate_ball_dataset(spec, work / "hidden", config, progress,
                                    int(params["data"].get("workers", 1)))
    fold_dirs = []
    for k, model_dir in enumerate(model_dirs):
        fold_dirs.append(work / "predictions" / f"model_{k}")
        predict_games(model_dir, spec, games, fold_dirs[-1], params["predict"], progress)
    results = work / "results"
    ensemble_games(spec, fold_dirs, games, results,
                   PostprocessParams.from_params(params["postprocess"]))
    scores = score_games(spec, spec.task_dir, results, games,
                         params.get("evaluate", {}).get("metric", "at1"))
    return {"seed": seed, "games": len(games), "events": summary["events"], **scores}


def _run(args: argparse.Namespace) -> None:
    from ballspot.app.ensemble import spot_setup
    from ballspot.pipeline.schema import load_checked_params

    params = load_checked_params(args.params)
    dirs, _ = spot_setup(params, args.params, args.model, live=False)
    print(f"generalise: {len(dirs)} models: {', '.join(map(str, dirs))}", file=sys.stderr)
    rows = []
    for seed in args.seed:
        with tempfile.TemporaryDirectory(prefix="ballspot-generalise-") as work:
            rows.append(score_fresh_games(params, dirs, seed, args.games, work, not args.quiet))
        print(f"seed {seed}: mAP@1 {rows[-1]['mAP']:.4f} over {args.games} games "
              f"({', '.join(f'{c} {rows[-1][c]:.3f}' for c in params['dataset']['classes'])})",
              file=sys.stderr)
    if args.output:
        from ballspot.core.atomic import write_json

        write_json(args.output, rows)
    else:
        print(json.dumps(rows, indent=2))


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``ballspot generalise`` to the CLI."""
    parser = commands.add_parser(
        "generalise", help="score the fold ensemble on synthetic games of other generator seeds")
    parser.add_argument("--seed", type=int, nargs="+", default=[7],
                        help="generator seeds of the fresh games (default 7)")
    parser.add_argument("--games", type=int, default=2, help="games per seed")
    parser.add_argument("--model", action="append", default=None,
                        help="model directory or folder of fold_* (default: as ballspot spot)")
    parser.add_argument("--params", default="params.yaml", help="params file (generator settings)")
    parser.add_argument("--output", default=None, help="write the scores as JSON here")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=_run)
