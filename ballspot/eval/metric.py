"""SoccerNet action-spotting mAP, equal to ``SoccerNet.Evaluation.ActionSpotting.evaluate``.

Reproduces the official evaluator (SoccerNet 0.1.55 to 0.2.0, ``version=2``) including its
quirks: frames are ``int(fps * (int(position) / 1000))`` in float64 (truncation, so 1160 ms is
frame 28 at 25 fps), clipped to ``120*60*fps - 1`` (and a negative frame wraps from the end, as
NumPy indexing does there); one slot per game, half, class and frame where the last item in the
file wins; a negative (or NaN) confidence empties its slot; ground truths, in time order, each
take the highest-confidence unused detection within ``|Δ| <= δ/2`` frames (ties to the earliest
frame); precision and recall at 200 thresholds; 11-point interpolated AP; classes without ground
truth count as 0; unknown labels and halves other than 1 and 2 are dropped. Only the overall
numbers are computed, not the visible/unshown split.

The quirks are those of ``label2vector``, ``predictions2vector`` and ``average_mAP`` in the
SoccerNet package (``SoccerNet/Evaluation/ActionSpotting.py``), the evaluator that the 2023
solution calls (lRomul/ball-action-spotting@9c47153 src/evaluate.py:59-60,86-88,137-139).
"""

from __future__ import annotations

import argparse
import json
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ballspot.core.atomic import write_json
from ballspot.core.errors import BallspotError
from ballspot.core.formats import RESULTS_FILE
from ballspot.data.soccernet import DatasetSpec

BALL_CLASSES = ("PASS", "DRIVE")
BALL_2024_CLASSES = (
    "PASS", "DRIVE", "HEADER", "HIGH PASS", "OUT", "CROSS", "THROW IN", "SHOT",
    "BALL PLAYER BLOCK", "PLAYER SUCCESSFUL TACKLE", "FREE KICK", "GOAL",
)
HALF_MINUTES = 120  # the evaluator's per-half vector length, in minutes
THRESHOLDS = np.linspace(0, 1, 200)
RECALL_POINTS = np.arange(11) / 10
METRIC_WINDOWS = {  # window widths in seconds
    "at1": (1,), "at2": (2,), "at3": (3,), "at4": (4,), "at5": (5,),
    "tight": (1, 2, 3, 4, 5),
    "loose": tuple(range(5, 65, 5)),
}


@dataclass(frozen=True)
class Spots:
    """Events on many timelines (one timeline = one half of one game), in file order.

    ``stream``, ``label`` and ``frame`` are int arrays (N,); ``score`` is float (N,) for
    detections and None for ground truth. Frames are non-negative.
    """

    stream: np.ndarray
    label: np.ndarray
    frame: np.ndarray
    score: np.ndarray | None = None

    @classmethod
    def from_lists(cls, stream: Sequence[int], label: Sequence[int], frame: Sequence[int],
                   score: Sequence[float] | None = None) -> Spots:
        return cls(np.asarray(stream, dtype=np.int64).reshape(-1),
                   np.asarray(label, dtype=np.int64).reshape(-1),
                   np.asarray(frame, dtype=np.int64).reshape(-1),
                   None if score is None else np.asarray(score, dtype=np.float64).reshape(-1))


def official_frame(position_ms: int, fps: float = 25.0) -> int:
    """The evaluator's frame of a position in ms: float truncation, before clipping."""
    return int(fps * (position_ms / 1000))


def _last_wins(keys: np.ndarray) -> np.ndarray:
    """Indexes of the last occurrence of each distinct key, in key order."""
    _, first_in_reversed = np.unique(keys[::-1], return_index=True)
    return len(keys) - 1 - first_in_reversed


def _validate(spots: Spots, num_classes: int) -> None:
    n = len(spots.frame)
    if not (len(spots.stream) == len(spots.label) == n
            and (spots.score is None or len(spots.score) == n)):
        raise ValueError("Spots arrays differ in length")
    if n and (spots.frame.min() < 0 or spots.stream.min() < 0 or spots.label.min() < 0
              or spots.label.max() >= num_classes):
        raise ValueError("negative frame or stream, or label out of range")


def _line_up(gt: Spots, det: Spots, num_classes: int, max_half_window: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Put every (stream, class) timeline end to end on one integer axis, far enough apart
    that no window crosses from one to the next, and apply the slot rules.

    Returns gt times (G,) sorted, gt labels (G,), det times (D,) sorted, det labels (D,),
    det scores (D,).
    """
    for spots in (gt, det):
        _validate(spots, num_classes)
    assert det.score is not None
    top = max([int(s.frame.max()) for s in (gt, det) if len(s.frame)], default=0)
    span = top + 2 * max_half_window + 2
    n_streams = 1 + max([int(s.stream.max()) for s in (gt, det) if len(s.stream)], default=0)
    if n_streams * num_classes * span >= 2**62:
        raise ValueError("too many streams or frames for one int64 axis")

    def times(spots: Spots) -> np.ndarray:
        return (spots.stream * num_classes + spots.label) * span + spots.frame

    gt_keep = _last_wins(times(gt))
    gt_time = times(gt)[gt_keep]
    det_keep = _last_wins(times(det))
    det_time = times(det)[det_keep]
    det_score = det.score[det_keep]
    # a negative confidence (or NaN) in the last-written item leaves the slot empty
    present = det_score >= 0
    return (gt_time, gt.label[gt_keep], det_time[present], det.label[det_keep][present],
            det_score[present])


def _match(gt_time: np.ndarray, det_time: np.ndarray, det_score: np.ndarray,
           half_window: int) -> np.ndarray:
    """True positives (D,) bool: ground truths in time order each take the best-scoring unused
    detection with |Δ| <= half_window (ties to the earliest).

    Only ground truths whose candidate ranges overlap depend on each other; such runs are
    processed one rank at a time, all runs at once.
    """
    tp = np.zeros(len(det_time), dtype=bool)
    if len(gt_time) == 0 or len(det_time) == 0:
        return tp
    lo = np.searchsorted(det_time, gt_time - half_window, side="left")
    hi = np.searchsorted(det_time, gt_time + half_window, side="right")
    # lo and hi are non-decreasing, so a run breaks exactly where consecutive ranges are disjoint
    new_run = np.ones(len(gt_time), dtype=bool)
    new_run[1:] = lo[1:] >= hi[:-1]
    run_start = np.maximum.accumulate(np.where(new_run, np.arange(len(gt_time)), 0))
    rank = np.arange(len(gt_time)) - run_start
    has_candidates = hi > lo
    for k in range(int(rank[has_candidates].max(initial=-1)) + 1):
        active = np.flatnonzero((rank == k) & has_candidates)
        if len(active) == 0:
            continue
        width = int((hi[active] - lo[active]).max())
        cand = lo[active, None] + np.arange(width)
        valid = cand < hi[active, None]
        cand = np.minimum(cand, len(det_time) - 1)
        scores = np.where(valid & ~tp[cand], det_score[cand], -np.inf)
        best = scores.argmax(axis=1)  # first maximum = earliest frame
        won = scores[np.arange(len(active)), best] > -np.inf
        tp[cand[np.arange(len(active)), best][won]] = True
    return tp


def _average_precision(scores: np.ndarray, tp: np.ndarray, n_gt: int) -> float:
    """11-point interpolated AP over the 200-threshold precision/recall curve."""
    order = np.argsort(scores, kind="stable")
    scores, tp = scores[order], tp[order]
    tp_from = np.concatenate([np.cumsum(tp[::-1])[::-1], [0]])  # TPs with index >= i
    first = np.searchsorted(scores, THRESHOLDS, side="left")  # first score >= threshold
    n_sel = len(scores) - first
    n_tp = tp_from[first].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.nan_to_num(n_tp / n_sel)
        recall = np.nan_to_num(n_tp / n_gt)
    reached = recall[None, :] >= RECALL_POINTS[:, None]
    best = np.where(reached, precision[None, :], -np.inf).max(axis=1)
    best[~reached.any(axis=1)] = 0.0
    total = 0.0
    for value in best.tolist():  # the evaluator's summation order
        total += value
    return total / 11


def spotting_map(gt: Spots, det: Spots, num_classes: int, metric: str = "at1",
                 fps: float = 25.0) -> tuple[float, np.ndarray]:
    """(mAP, per-class AP (C,)) of detections against ground truth, on integer frames.

    Applies the evaluator's slot rules (last item per stream/class/frame wins, negative
    confidence means absent) and its matching, curve and averaging; ``tight`` and ``loose``
    are trapezoid averages over their windows of the class mean and of each class.
    """
    if metric not in METRIC_WINDOWS:
        raise ValueError(f"unknown metric {metric!r} (known: {sorted(METRIC_WINDOWS)})")
    if det.score is None:
        raise ValueError("detections need scores")
    deltas = [w * fps for w in METRIC_WINDOWS[metric]]
    # |Δ| <= δ/2 on integer frames
    half_windows = [math.floor(d / 2) for d in deltas]
    gt_time, gt_label, det_time, det_label, det_score = _line_up(
        gt, det, num_classes, max(half_windows))
    n_gt = np.bincount(gt_label, minlength=num_classes)
    maps: list[float] = []
    per_class: list[np.ndarray] = []
    for half_window in half_windows:
        tp = _match(gt_time, det_time, det_score, half_window)
        ap = np.array([
            _average_precision(det_score[det_label == c], tp[det_label == c], int(n_gt[c]))
            for c in range(num_classes)])
        maps.append(float(np.mean(ap)))
        per_class.append(ap)
    if len(maps) == 1:
        return maps[0], per_class[0]
    # the evaluator's trapezoid, in its order
    total = 0.0
    for i in range(len(maps) - 1):
        total += (maps[i] + maps[i + 1]) / 2
    class_totals = np.zeros(num_classes)
    for i in range(len(per_class) - 1):
        class_totals += (per_class[i] + per_class[i + 1]) / 2
    return total / (len(maps) - 1), class_totals / (len(maps) - 1)


# --------------------------------------------------------------------------- files


class _Tree:
    """A SoccerNet-layout folder or zip: ``league/season/game/<file>``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.is_dir():
            self.zip_names: dict[str, str] | None = None
        elif path.is_file() and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                # tolerate "./" prefixes; map the clean name to the stored one
                self.zip_names = {PurePosixPath(n).as_posix().removeprefix("./"): n
                                  for n in zf.namelist() if not n.endswith("/")}
        elif path.exists():
            raise BallspotError(path, "neither a folder nor a zip file")
        else:
            raise BallspotError(path, "not found")

    def games(self, filename: str) -> list[str]:
        """Games (``league/season/game``) holding ``filename``."""
        if self.zip_names is None:
            found = [p.parent.relative_to(self.path).as_posix()
                     for p in self.path.glob(f"*/*/*/{filename}") if p.is_file()]
        else:
            found = [str(PurePosixPath(n).parent) for n in self.zip_names
                     if len(PurePosixPath(n).parts) == 4 and PurePosixPath(n).name == filename]
        return sorted(set(found))

    def where(self, game: str, filename: str) -> Path:
        return self.path / game / filename

    def read_json(self, game: str, filename: str) -> Any:
        where = self.where(game, filename)
        try:
            if self.zip_names is None:
                if not where.is_file():
                    raise BallspotError(where, "file not found")
                raw = where.read_bytes()
            else:
                name = self.zip_names.get(f"{game}/{filename}")
                if name is None:
                    raise BallspotError(where, "file not found in the zip")
                with zipfile.ZipFile(self.path) as zf:
                    raw = zf.read(name)
            return json.loads(raw.decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BallspotError(where, f"malformed JSON ({exc})") from None
        except (OSError, zipfile.BadZipFile) as exc:
            raise BallspotError(where, f"cannot read ({exc})") from None


def _place(frame: int, half_length: int, where: Path, index: int) -> int:
    """Clip as the evaluator does; a negative frame indexes from the end of its vector."""
    frame = min(frame, half_length - 1)
    if frame < -half_length:
        raise BallspotError(where, f"item {index} has a position before -120 minutes")
    return frame % half_length


def _read_labels(data: Any, where: Path, class_index: dict[str, int], fps: float,
                 half_length: int) -> tuple[list[int], list[int], list[int]]:
    """(halves, labels, frames) of the ground truth, in file order, unknown items dropped."""
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise BallspotError(where, "malformed labels JSON (no 'annotations' list)")
    halves, labels, frames = [], [], []
    for i, item in enumerate(data["annotations"]):
        try:
            time = item["gameTime"]
            event = item["label"]
            half = int(time[0])
            minutes, seconds = int(time[-5:-3]), int(time[-2:])
            if "position" in item:
                frame = official_frame(int(item["position"]), fps)
            else:
                frame = int(fps * (seconds + 60 * minutes))
            known = event in class_index
        except (KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
            raise BallspotError(where, f"annotation {i} is malformed ({exc!r})") from None
        if known and half in (1, 2):
            halves.append(half)
            labels.append(class_index[event])
            frames.append(_place(frame, half_length, where, i))
    return halves, labels, frames


def _read_predictions(data: Any, where: Path, class_index: dict[str, int], fps: float,
                      half_length: int) -> tuple[list[int], list[int], list[int], np.ndarray]:
    """(halves, labels, frames, confidences) of the predictions, in file order."""
    if not isinstance(data, dict) or not isinstance(data.get("predictions"), list):
        raise BallspotError(where, "malformed predictions JSON (no 'predictions' list)")
    halves, labels, frames, raw_conf = [], [], [], []
    for i, item in enumerate(data["predictions"]):
        try:
            position = int(item["position"])
            event = item["label"]
            half = int(item["half"])
            frame = official_frame(position, fps)
            if event not in class_index:
                continue
            confidence = item["confidence"]  # read before the half test, as the evaluator does
            if half not in (1, 2):
                continue
            raw_conf.append(confidence)
        except (KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
            raise BallspotError(where, f"prediction {i} is malformed ({exc!r})") from None
        halves.append(half)
        labels.append(class_index[event])
        frames.append(_place(frame, half_length, where, i))
    confidences = np.empty(len(raw_conf))
    for i, value in enumerate(raw_conf):
        try:
            # NumPy's own conversion, as the evaluator stores it: numeric strings parse, None is NaN
            confidences[i] = value
        except (TypeError, ValueError) as exc:
            raise BallspotError(where, f"a prediction has a bad confidence {value!r} "
                                       f"({exc})") from None
    return halves, labels, frames, confidences


def evaluate(
    labels: str | Path, predictions: str | Path,
    classes: Sequence[str] = BALL_CLASSES, metric: str = "at1",
    label_file: str = "Labels-ball.json", prediction_file: str = "results_spotting.json",
    games: Sequence[str] | None = None, fps: float = 25.0, allow_missing: bool = False,
    check_confidences: bool = True,
) -> dict[str, Any]:
    """Score SoccerNet-layout predictions (folder or zip) against labels (folder or zip).

    Scores ``games`` if given, else every game with a label file: a scored game without a
    prediction file is an error (a missing file would flatter the score), unless
    ``allow_missing``, which scores it with no detections and lists it under ``"missing"``.
    ``check_confidences``: a NaN, infinite or out-of-[0, 1] confidence is an error naming the
    file; False keeps the official evaluator's reading (a negative or NaN one empties its slot).
    Returns ``{"mAP", "per_class": {class: AP}, "metric", "games", "missing"}``. Raises
    :class:`BallspotError` on a missing or malformed file, no game to score, or an unknown metric.
    """
    if metric not in METRIC_WINDOWS:
        raise BallspotError(None, f"unknown metric {metric!r} (known: {sorted(METRIC_WINDOWS)})")
    classes = tuple(classes)
    if not classes or len(set(classes)) != len(classes):
        raise BallspotError(None, f"classes must be distinct and non-empty, got {list(classes)}")
    if not fps > 0:
        raise BallspotError(None, f"fps must be > 0, got {fps}")
    label_tree, pred_tree = _Tree(Path(labels)), _Tree(Path(predictions))
    if games is None:
        games = label_tree.games(label_file)
        if not games:
            raise BallspotError(labels, f"no league/season/game folder holds {label_file}")
    games = list(games)
    if not games:
        raise BallspotError(None, "no game to score")
    have = set(pred_tree.games(prediction_file))
    missing = [g for g in games if g not in have]
    if missing and not allow_missing:
        raise BallspotError(predictions, f"no {prediction_file} for {len(missing)} of "
                                         f"{len(games)} labelled games (first: {missing[0]!r}); "
                                         "pass --allow-missing to score them as empty")
    class_index = {name: i for i, name in enumerate(classes)}
    half_length = int(round(HALF_MINUTES * 60 * fps))
    gt: list[list[int]] = [[], [], []]
    det: list[list[int]] = [[], [], []]
    det_scores = []
    for g, game in enumerate(games):
        halves, cls, frames = _read_labels(label_tree.read_json(game, label_file),
                                           label_tree.where(game, label_file), class_index,
                                           fps, half_length)
        gt[0] += [2 * g + h - 1 for h in halves]
        gt[1] += cls
        gt[2] += frames
        if game in missing:
            continue  # no detections: its ground truths are all misses
        where = pred_tree.where(game, prediction_file)
        halves, cls, frames, conf = _read_predictions(
            pred_tree.read_json(game, prediction_file), where, class_index, fps, half_length)
        if check_confidences and len(conf) and not np.all((conf >= 0) & (conf <= 1)):
            bad = conf[~((conf >= 0) & (conf <= 1))][0]
            raise BallspotError(where, f"a confidence is {bad!r}: each must be a number in "
                                       "[0, 1]")
        det[0] += [2 * g + h - 1 for h in halves]
        det[1] += cls
        det[2] += frames
        det_scores.append(conf)
    score = np.concatenate(det_scores) if det_scores else np.empty(0)
    value, per_class = spotting_map(Spots.from_lists(*gt), Spots.from_lists(*det, score),
                                    len(classes), metric, fps)
    return {"mAP": float(value), "per_class": dict(zip(classes, map(float, per_class),
                                                       strict=True)),
            "metric": metric, "games": games, "missing": missing}


# --------------------------------------------------------------------------- CLI


def _evaluate_command(args: argparse.Namespace) -> None:
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    result = evaluate(args.labels, args.predictions, classes=classes, metric=args.metric,
                      label_file=args.label_file, prediction_file=args.prediction_file,
                      games=args.game, fps=args.fps, allow_missing=args.allow_missing,
                      check_confidences=not args.official_confidences)
    print(f"mAP ({result['metric']}) over {len(result['games'])} games: {result['mAP']:.4f}")
    if result["missing"]:
        print(f"  {len(result['missing'])} game(s) without predictions scored as empty: "
              f"{', '.join(result['missing'])}")
    width = max(len(c) for c in result["per_class"])
    for name, ap in result["per_class"].items():
        print(f"  {name:<{width}}  {ap:.4f}")
    if args.output is not None:
        write_json(args.output, result)


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``ballspot evaluate`` to the CLI's sub-commands."""
    parser = commands.add_parser(
        "evaluate", help="SoccerNet mAP of results_spotting.json files (equal to the official)")
    parser.add_argument("--labels", type=Path, required=True,
                        help="labels root (league/season/game/<label file>), folder or zip")
    parser.add_argument("--predictions", type=Path, required=True,
                        help="predictions root, folder or zip, same layout")
    parser.add_argument("--metric", default="at1", choices=sorted(METRIC_WINDOWS),
                        help="at1..at5 (one window of N s), tight (1-5 s), loose (5-60 s)")
    parser.add_argument("--label-file", default="Labels-ball.json")
    parser.add_argument("--prediction-file", default="results_spotting.json")
    parser.add_argument("--classes", default=",".join(BALL_CLASSES),
                        help="comma-separated class names, in column order")
    parser.add_argument("--game", action="append", default=None,
                        help="game to score (repeatable; default: every labelled game)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="score a labelled game without predictions as empty (else an error)")
    parser.add_argument("--official-confidences", action="store_true",
                        help="read any confidence as the official evaluator does (NaN or "
                             "negative: no detection); else outside [0, 1] is an error")
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--output", type=Path, default=None, help="write the result as JSON")
    parser.set_defaults(func=_evaluate_command)


def score_games(spec: DatasetSpec, labels: str | Path, predictions: str | Path,
                games: Sequence[str], metric: str = "at1") -> dict[str, float]:
    """``{"mAP": ..., <class>: AP}`` of ``games``' ``results_spotting.json`` in ``predictions``
    (a folder or a submission zip) against the label files under ``labels``."""
    result = evaluate(labels, predictions, spec.classes, metric, spec.label_file, RESULTS_FILE,
                      games, spec.fps)
    return {"mAP": float(result["mAP"]),
            **{c: float(v) for c, v in result["per_class"].items()}}
