"""From per-frame class probabilities to spotted actions, ``results_spotting.json`` and blends.

Raw predictions of one half are stored as ``<half>_raw_predictions.npz`` with
``frame_indexes`` (int, (N,), strictly increasing) and ``raw_predictions`` (float32, (N, C)).
Peaks of the Gaussian-smoothed probability of each class are the actions (2023 solution:
lRomul/ball-action-spotting@9c47153 src/utils.py:55-64, parameters
src/ball_action/constants.py:39-43).
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import scipy.ndimage
import scipy.signal

from ballspot.core.atomic import atomic_path, write_json
from ballspot.core.errors import BallspotError
from ballspot.core.formats import RAW_PREDICTIONS, RESULTS_FILE
from ballspot.data.soccernet import FPS, DatasetSpec, frame_to_position, game_time

Action = tuple[int, int, float]  # (frame, class index, confidence)


@dataclass(frozen=True)
class PostprocessParams:
    """Peak detection knobs: smoothing sigma (frames), minimum peak height, minimum peak spacing."""

    gauss_sigma: float = 3.0
    height: float = 0.2
    distance: int = 15

    def __post_init__(self) -> None:
        if not self.gauss_sigma > 0:
            raise ValueError(f"gauss_sigma must be > 0, got {self.gauss_sigma}")
        if not np.isfinite(self.height):
            raise ValueError(f"height must be finite, got {self.height}")
        if self.distance < 1:
            raise ValueError(f"distance must be >= 1 frame, got {self.distance}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PostprocessParams:
        """Build from a params block; unknown keys are an error (they are usually typos)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown postprocess params {unknown} (known: {sorted(known)})")
        defaults = cls()
        return cls(
            gauss_sigma=float(params.get("gauss_sigma", defaults.gauss_sigma)),
            height=float(params.get("height", defaults.height)),
            distance=int(params.get("distance", defaults.distance)),
        )

    def to_dict(self) -> dict[str, float | int]:
        return {"gauss_sigma": self.gauss_sigma, "height": self.height, "distance": self.distance}


def _check_pair(frame_indexes: np.ndarray, raw_predictions: np.ndarray) -> None:
    if frame_indexes.ndim != 1 or raw_predictions.ndim != 2:
        raise ValueError(
            f"expected frame_indexes (N,) and raw_predictions (N, C), got shapes "
            f"{frame_indexes.shape} and {raw_predictions.shape}")
    if len(frame_indexes) != len(raw_predictions):
        raise ValueError(f"{len(frame_indexes)} frame indexes but {len(raw_predictions)} rows")


def postprocess(
    frame_indexes: np.ndarray, raw_predictions: np.ndarray,
    params: PostprocessParams = PostprocessParams(),  # noqa: B008 (frozen, so a safe default)
) -> list[Action]:
    """Actions ``(frame, class, confidence)`` of one half, sorted by frame then class.

    ``frame_indexes`` (N,) must be contiguous; ``raw_predictions`` (N, C) are probabilities.
    Each class is smoothed with a Gaussian (reflect mode, truncate 4, in float64), and peaks of
    height >= ``params.height`` at least ``params.distance`` frames apart are kept; the confidence
    is the smoothed value at the peak.
    """
    frame_indexes = np.asarray(frame_indexes)
    raw_predictions = np.asarray(raw_predictions)
    _check_pair(frame_indexes, raw_predictions)
    if len(frame_indexes) == 0:
        return []
    if np.any(np.diff(frame_indexes) != 1):
        raise ValueError("frame_indexes must be contiguous (peak positions are offsets from the "
                         "first index)")
    first = int(frame_indexes[0])
    actions: list[Action] = []
    for cls in range(raw_predictions.shape[1]):
        smooth = scipy.ndimage.gaussian_filter1d(
            raw_predictions[:, cls].astype(np.float64), sigma=params.gauss_sigma,
            mode="reflect", truncate=4.0)
        peaks, _ = scipy.signal.find_peaks(smooth, height=params.height,
                                           distance=params.distance)
        actions.extend((first + int(p), cls, float(smooth[p])) for p in peaks)
    actions.sort(key=lambda a: (a[0], a[1]))
    return actions


def predictions_to_results(
    game: str, per_half: Mapping[int, Sequence[Action]], classes: Sequence[str],
    fps: float = FPS,
) -> dict[str, Any]:
    """The ``results_spotting.json`` dict of one game (predictions sorted by half, position)."""
    items = []
    for half, actions in per_half.items():
        for frame, cls, confidence in actions:
            if not 0 <= cls < len(classes):
                raise ValueError(f"class index {cls} out of range for {len(classes)} classes")
            items.append({
                "gameTime": game_time(int(half), int(frame), fps),
                "label": classes[cls],
                "position": str(frame_to_position(int(frame), fps)),
                "half": str(int(half)),
                "confidence": str(float(confidence)),
            })
    # stable sort: equal positions keep class order
    items.sort(key=lambda item: (int(item["half"]), int(item["position"])))
    return {"UrlLocal": game, "predictions": items}


def write_results(path: str | Path, results: Mapping[str, Any]) -> None:
    """Write a ``results_spotting.json`` dict atomically (indent 4)."""
    write_json(path, dict(results), indent=4)


def save_raw_predictions(
    path: str | Path, frame_indexes: np.ndarray, raw_predictions: np.ndarray
) -> None:
    """Write ``<half>_raw_predictions.npz`` atomically (int64 (N,), float32 (N, C))."""
    frame_indexes = np.asarray(frame_indexes)
    raw_predictions = np.asarray(raw_predictions)
    _check_pair(frame_indexes, raw_predictions)
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        # a file object, so that np.savez does not append ".npz" to the temporary name
        np.savez(f, frame_indexes=frame_indexes.astype(np.int64),
                 raw_predictions=raw_predictions.astype(np.float32))


def load_raw_predictions(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read ``<half>_raw_predictions.npz``: frame indexes int64 (N,), predictions float32 (N, C).

    Raises :class:`BallspotError` naming the file if it is missing, not an npz, lacks a key,
    has wrong shapes or dtypes, non-increasing or negative frame indexes, or non-finite values.
    """
    path = Path(path)
    if not path.is_file():
        raise BallspotError(path, "raw predictions file not found")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in ("frame_indexes", "raw_predictions") if k not in npz.files]
            if missing:
                raise BallspotError(path, f"malformed raw predictions: no {missing} "
                                          f"(keys: {sorted(npz.files)})")
            frames = npz["frame_indexes"]
            preds = npz["raw_predictions"]
    except BallspotError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise BallspotError(path, f"not a readable npz file ({exc})") from None
    if frames.ndim != 1 or not np.issubdtype(frames.dtype, np.integer):
        raise BallspotError(path, f"frame_indexes must be a 1-D int array, got {frames.dtype} "
                                  f"{frames.shape}")
    if preds.ndim != 2 or not np.issubdtype(preds.dtype, np.floating):
        raise BallspotError(path, f"raw_predictions must be a 2-D float array, got {preds.dtype} "
                                  f"{preds.shape}")
    if len(frames) != len(preds):
        raise BallspotError(path, f"{len(frames)} frame indexes but {len(preds)} prediction rows")
    if len(frames) and (frames[0] < 0 or np.any(np.diff(frames) <= 0)):
        raise BallspotError(path, "frame_indexes must be non-negative and strictly increasing")
    if not np.all(np.isfinite(preds)):
        raise BallspotError(path, "raw_predictions hold NaN or infinite values")
    return frames.astype(np.int64), preds.astype(np.float32)


def blend_raw_predictions(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of several models' raw predictions over the union of their frame indexes.

    Unlike the 2023 solution, which divided the sum by the number of models, each frame is
    divided by the number of models that predicted it (its coverage), so frames near the
    ends of a half that only some models reach are not pulled towards 0.
    Returns (sorted union of frame indexes int64 (M,), blended predictions float32 (M, C)).
    """
    if not pairs:
        raise ValueError("nothing to blend")
    for frames, preds in pairs:
        _check_pair(np.asarray(frames), np.asarray(preds))
    widths = {np.asarray(preds).shape[1] for _, preds in pairs}
    if len(widths) != 1:
        raise ValueError(f"models disagree on the number of classes: {sorted(widths)}")
    union = np.unique(np.concatenate([np.asarray(f, dtype=np.int64) for f, _ in pairs]))
    total = np.zeros((len(union), widths.pop()), dtype=np.float64)
    coverage = np.zeros(len(union), dtype=np.int64)
    for frames, preds in pairs:
        frames = np.asarray(frames, dtype=np.int64)
        if len(np.unique(frames)) != len(frames):
            raise ValueError("a model has repeated frame indexes")
        rows = np.searchsorted(union, frames)
        total[rows] += np.asarray(preds, dtype=np.float64)
        coverage[rows] += 1
    return union, (total / coverage[:, None]).astype(np.float32)


def spot_games(spec: DatasetSpec, games: Sequence[str], predictions_dir: Path,
               results_dir: Path, post: PostprocessParams) -> None:
    """Post-process raw predictions into ``<results_dir>/<game>/results_spotting.json``."""
    for game in games:
        per_half = {}
        for half in spec.halves:
            indexes, raw = load_raw_predictions(
                predictions_dir / game / RAW_PREDICTIONS.format(half=half))
            per_half[half] = postprocess(indexes, raw, post)
        write_results(results_dir / game / RESULTS_FILE,
                      predictions_to_results(game, per_half, spec.classes, spec.fps))
