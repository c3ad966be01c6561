"""``ballspot visualize``: the timeline PNG and overlay video of a dataset game's predictions,
with its ground truth in its own lane (the pictures themselves are :mod:`ballspot.render`'s)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ballspot.core.atomic import staged_outputs
from ballspot.core.errors import BallspotError
from ballspot.data.soccernet import DatasetSpec
from ballspot.predict.postprocess import PostprocessParams
from ballspot.render.visualize import VISUALIZE_OUTPUTS, Event, plot_timeline, render_overlay


def visualize_game(game: str, predictions: str | Path | None = None, half: int = 1,
                   out: str | Path | None = None, params_path: str | Path = "params.yaml",
                   overlay: bool = True, progress: bool = True) -> Path:
    """Timeline PNG and overlay MP4 of one dataset half from pipeline predictions, with GT.

    ``predictions`` holds ``<game>/<half>_raw_predictions.npz``; default: see
    :func:`default_predictions`. Output
    folder default: ``visualize/<game>/half_<half>``. Returns the output folder.
    """
    from ballspot.core.formats import RAW_PREDICTIONS
    from ballspot.data.soccernet import DatasetSpec, frame_to_position, read_labels
    from ballspot.pipeline.schema import load_checked_params
    from ballspot.predict.postprocess import load_raw_predictions, postprocess

    params = load_checked_params(params_path)
    if "dataset" not in params:
        raise BallspotError(params_path, "missing params block 'dataset'")
    spec = DatasetSpec.from_params(params["dataset"])
    if half not in spec.halves:
        raise BallspotError(params_path, f"half {half} is not one of {list(spec.halves)}")
    if predictions is None:
        predictions = default_predictions(spec, game, params_path)
    indexes, raw = load_raw_predictions(Path(predictions) / game
                                        / RAW_PREDICTIONS.format(half=half))
    post = postprocess_params(params, params_path)
    classes = list(spec.classes)
    if raw.shape[1] != len(classes):
        raise BallspotError(predictions, f"predictions have {raw.shape[1]} classes, params "
                                         f"dataset.classes has {len(classes)}")
    actions = postprocess(indexes, raw, post)
    events = [Event(frame_to_position(f, spec.fps), c, conf) for f, c, conf in actions]
    gt = None
    if spec.label_path(game).is_file():
        gt = [Event(frame_to_position(a.frame, spec.fps), classes.index(a.label))
              for a in read_labels(spec.label_path(game), spec.classes, spec.halves, spec.fps)
              if a.half == half]
    video = spec.find_video(game, half)
    if video is None:
        raise BallspotError(spec.game_dir(game), f"video of half {half} not found")
    out_dir = Path(out) if out is not None else Path("visualize") / game / f"half_{half}"
    times = indexes.astype(np.float64) * 1000.0 / spec.fps
    with staged_outputs(out_dir, VISUALIZE_OUTPUTS) as stage:  # both outputs, or none
        plot_timeline(stage / VISUALIZE_OUTPUTS[0], times, raw, classes, events, gt,
                      title=f"{game} half {half}")
        if overlay:
            from ballspot.data.resample import scan_video

            render_overlay(video, stage / VISUALIZE_OUTPUTS[1], times, raw, classes, events, gt,
                           progress=progress, total_frames=len(scan_video(video).times))
    return out_dir


def default_predictions(spec: DatasetSpec, game: str, params_path: str | Path) -> Path:
    """The pipeline's latest predictions of ``game``: the fold ensemble for a challenge game,
    else the out-of-fold predictions of S4 (``finetune``) if present, else of S1 (``basic``)."""
    if game in spec.challenge:
        return Path("data/results/finetune/challenge")
    try:
        fold = spec.fold_of(game)
    except KeyError:
        raise BallspotError(params_path, f"game {game!r} is in no fold; pass --predictions"
                            ) from None
    for stage in ("finetune", "basic"):
        folder = Path("data/predictions") / stage / "cv" / f"fold_{fold}"
        if folder.is_dir():
            return folder
    return folder


def postprocess_params(params: Mapping[str, Any], source: str | Path) -> PostprocessParams:
    """``PostprocessParams`` of a params mapping's ``postprocess`` block (defaults if absent)."""
    try:
        return PostprocessParams.from_params(params.get("postprocess") or {})
    except (ValueError, TypeError) as exc:
        raise BallspotError(source, f"bad postprocess params ({exc})") from None


def _visualize(args: argparse.Namespace) -> None:
    out = visualize_game(args.game, args.predictions, args.half, args.out, args.params,
                         overlay=not args.no_overlay)
    print(f"visualize: wrote {out}", file=sys.stderr)


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``ballspot visualize``."""
    cmd = commands.add_parser(
        "visualize", help="timeline PNG and overlay video of a dataset game's predictions + GT")
    cmd.add_argument("--game", required=True, help="game path relative to the task folder")
    cmd.add_argument("--predictions", default=None,
                     help="folder of <game>/<half>_raw_predictions.npz (default: the out-of-fold "
                          "predictions data/predictions/basic/cv/fold_<k> of the game's fold)")
    cmd.add_argument("--half", type=int, default=1)
    cmd.add_argument("--out", default=None,
                     help="output folder (default visualize/<game>/half_<half>)")
    cmd.add_argument("--params", default="params.yaml")
    cmd.add_argument("--no-overlay", action="store_true", help="skip the overlay video")
    cmd.set_defaults(func=_visualize)
