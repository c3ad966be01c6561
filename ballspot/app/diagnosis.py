"""Where do the false alarms come from? Every post-processed peak of out-of-fold predictions,
sorted by what lies at its frame: a true event of its class, an event of another class, an event
of its class just out of the metric's reach, or nothing; on synthetic games, also by what the
simulated ball does there (the generator replays any half from its seed).

AP is lost to peaks that outrank true events, so knowing which situations the model mistakes for
an event says which lever (data, context, post-processing) can move it.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ballspot.core.errors import BallspotError

TRUE, OTHER_CLASS, NEAR_OWN, ELSEWHERE = "true", "other class", "near own", "elsewhere"
TOLERANCE_FRAMES = 12  # the at1 metric's reach: half a second either side at 25 fps
NEAR_FRAMES = 50  # "near own": within 2 s of an event of the peak's class


@dataclass(frozen=True)
class Peak:
    """A post-processed peak: half, frame, class name, confidence."""

    half: int
    frame: int
    label: str
    confidence: float


def _distance(frames: np.ndarray, frame: int) -> int:
    return int(np.min(np.abs(frames - frame))) if len(frames) else sys.maxsize


def classify_peak(peak: Peak, events: Mapping[str, np.ndarray],
                  tolerance: int = TOLERANCE_FRAMES, near: int = NEAR_FRAMES) -> str:
    """The kind of ``peak`` given ``events`` (class name -> frames of the peak's half)."""
    own = _distance(events.get(peak.label, np.zeros(0, np.int64)), peak.frame)
    if own <= tolerance:
        return TRUE
    others = [_distance(frames, peak.frame) for label, frames in events.items()
              if label != peak.label]
    if others and min(others) <= tolerance:
        return OTHER_CLASS
    return NEAR_OWN if own <= near else ELSEWHERE


def ball_state(ball: np.ndarray, players: np.ndarray, frame: int, fps: int,
               reach_m: float = 1.0, change_mps: float = 2.5, span: int = 8) -> str:
    """What a simulated ball does around ``frame``: its speed over 5 frames before ``frame -
    span`` against 5 frames after ``frame + span`` (``ball`` (T, >= 2) and ``players`` (T, P, 2)
    in metres); "free" with no player within ``reach_m``."""
    speed = np.r_[0.0, np.linalg.norm(np.diff(ball[:, :2], axis=0), axis=1) * fps]
    first, last = max(frame - span, 0), min(frame + span, len(speed) - 1)
    before = float(speed[max(first - 5, 0):first + 1].mean())
    after = float(speed[last:last + 6].mean())
    if after - before > change_mps:
        return "accelerating"
    if before - after > change_mps:
        return "decelerating"
    nearest = float(np.min(np.linalg.norm(players[frame] - ball[frame, :2], axis=1)))
    return "at the feet" if nearest < reach_m else "free, steady"


def diagnose(params: Mapping[str, Any], predictions: str | Path,
             tolerance: int = TOLERANCE_FRAMES, near: int = NEAR_FRAMES) -> dict[str, Any]:
    """Counts of peak kinds per class over every ``<game>/<half>_raw_predictions.npz`` under
    ``predictions`` (fold_* folders or games), post-processed with ``params``' postprocess
    block, against the dataset's labels. Synthetic games also get the ball state of each peak
    that is not a true one, from a replay of the generator with ``params``' settings.
    """
    from ballspot.core.formats import RAW_PREDICTIONS
    from ballspot.data.soccernet import DatasetSpec, read_labels
    from ballspot.data.synthetic.config import REFEREE
    from ballspot.predict.postprocess import (
        PostprocessParams,
        load_raw_predictions,
        postprocess,
    )

    spec = DatasetSpec.from_params(params["dataset"])
    post = PostprocessParams.from_params(params["postprocess"])
    classes = list(spec.classes)
    synthetic = params.get("data", {}).get("source") == "synthetic"
    suffix = RAW_PREDICTIONS.format(half="*")
    files = sorted(Path(predictions).rglob(suffix))
    if not files:
        raise BallspotError(predictions, f"no {suffix} files found")
    kinds: dict[str, Counter[str]] = {c: Counter() for c in classes}
    states: dict[str, Counter[str]] = {c: Counter() for c in classes}
    found: dict[str, Counter[str]] = {c: Counter() for c in classes}
    for path in files:
        game = _game_of(path, spec)
        half = int(path.name.split("_")[0])
        labels = read_labels(spec.label_path(game), classes, spec.halves, spec.fps)
        events = {c: np.array([a.frame for a in labels if a.label == c and a.half == half],
                              np.int64) for c in classes}
        frames, raw = load_raw_predictions(path)
        peaks = [Peak(half, frame, classes[c], conf)
                 for frame, c, conf in postprocess(frames, raw, post)]
        track = _replay(params, game, half) if synthetic else None
        for peak in peaks:
            kind = classify_peak(peak, events, tolerance, near)
            kinds[peak.label][kind] += 1
            if track is not None and kind != TRUE:
                state = ball_state(track.ball, track.players[:, :REFEREE], peak.frame,
                                   track.fps)
                states[peak.label][f"{kind}: {state}"] += 1
        for c in classes:
            mine = np.array([p.frame for p in peaks if p.label == c], np.int64)
            for frame in events[c]:
                found[c]["found" if _distance(mine, int(frame)) <= tolerance else "missed"] += 1
    return {"predictions": str(predictions), "halves": len(files),
            "postprocess": post.to_dict(), "tolerance_frames": tolerance,
            "near_frames": near,
            "classes": {c: {"events": dict(found[c]), "peaks": dict(kinds[c]),
                            "ball": dict(sorted(states[c].items()))} for c in classes}}


def _game_of(path: Path, spec: Any) -> str:
    """The dataset game of a predictions file: the shortest tail of its folder that is a game."""
    parts = path.parent.parts
    for start in range(len(parts) - 1, -1, -1):  # the shortest tail first: never the anchor
        game = "/".join(parts[start:])
        try:
            if spec.label_path(game).is_file():
                return game
        except BallspotError:  # not a game name (an absolute path's root, say)
            continue
    raise BallspotError(path, f"no game of {spec.task_dir} matches this file's folder")


def _replay(params: Mapping[str, Any], game: str, half: int) -> Any:
    from ballspot.data.synthetic import SyntheticConfig, simulate_half

    return simulate_half(SyntheticConfig.from_params(params["data"]["synthetic"]), game, half)


def format_report(report: Mapping[str, Any]) -> str:
    """The report as text: per class, events found and peaks by kind (and ball state)."""
    lines = [f"{report['predictions']}: {report['halves']} halves, postprocess "
             f"{report['postprocess']}, true within {report['tolerance_frames']} frames, "
             f"near within {report['near_frames']}"]
    for label, row in report["classes"].items():
        events, peaks = row["events"], row["peaks"]
        total = sum(peaks.values())
        lines.append(f"{label}: {events.get('found', 0)} of "
                     f"{events.get('found', 0) + events.get('missed', 0)} events have a peak; "
                     f"{total} peaks: " + ", ".join(f"{k} {peaks.get(k, 0)}" for k in
                                                      (TRUE, OTHER_CLASS, NEAR_OWN, ELSEWHERE)))
        lines.extend(f"  {kind} {count}" for kind, count in row["ball"].items())
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> None:
    from ballspot.pipeline.schema import load_checked_params

    params = load_checked_params(args.params)
    if args.height is not None:
        params = {**params, "postprocess": {**params["postprocess"], "height": args.height}}
    report = diagnose(params, args.predictions)
    print(format_report(report))
    if args.output:
        from ballspot.core.atomic import write_json

        write_json(args.output, report)


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``ballspot diagnose`` to the CLI."""
    parser = commands.add_parser(
        "diagnose", help="sort the peaks of out-of-fold predictions by what lies at their frame")
    parser.add_argument("--predictions", required=True,
                        help="folder of <game>/<half>_raw_predictions.npz (fold_* folders too)")
    parser.add_argument("--params", default="params.yaml", help="params file")
    parser.add_argument("--height", type=float, default=None,
                        help="peak height (default: the postprocess block's)")
    parser.add_argument("--output", default=None, help="also write the report as JSON here")
    parser.set_defaults(func=_run)

