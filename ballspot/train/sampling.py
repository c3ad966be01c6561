"""Which frames a training or validation sample is made of.

The original (lRomul/ball-action-spotting@9c47153): src/indexes.py, src/datasets.py:85-145,
src/ball_action/annotations.py:118-162 and src/action/annotations.py:129-152.

A *clip* is ``size`` frame indexes ``step`` apart centred on a frame; training clips are centred
on frames drawn from per-video sampling weights (half near actions, half elsewhere, optionally
concentrated on a previous model's false positives), then jittered by a frame index shaker.
Every random choice comes from a NumPy ``Generator`` seeded from ``(seed, epoch, index)``, so a
sample does not depend on how many workers draw samples or in which order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter

from ballspot.data.soccernet import HalfVideo
from ballspot.model.frames import StackIndexes

VIDEO_CHOICES = ("uniform", "length")


@dataclass(frozen=True)
class FrameIndexShaker:
    """Temporal jitter (original: src/indexes.py:35-52): with probability ``prob`` per clip,
    shift each index at random."""

    shifts: tuple[int, ...] = (-1, 0, 1)
    weights: tuple[float, ...] = (0.2, 0.6, 0.2)
    prob: float = 0.25

    def __post_init__(self) -> None:
        object.__setattr__(self, "shifts", tuple(int(s) for s in self.shifts))
        object.__setattr__(self, "weights", tuple(float(w) for w in self.weights))
        if len(self.shifts) != len(self.weights) or not self.shifts:
            raise ValueError("shaker shifts and weights must be non-empty and of equal length")
        if not np.isclose(sum(self.weights), 1.0):
            raise ValueError(f"shaker weights must sum to 1, got {sum(self.weights)}")
        if not 0.0 <= self.prob <= 1.0:
            raise ValueError(f"shaker prob must be in [0, 1], got {self.prob}")

    @property
    def max_shift(self) -> int:
        return max(abs(s) for s in self.shifts)

    def __call__(self, indexes: Sequence[int], rng: np.random.Generator) -> list[int]:
        """Jittered copy of ``indexes``; shaken indexes may collide or reorder."""
        if rng.random() >= self.prob:
            return [int(i) for i in indexes]
        shifts = rng.choice(np.asarray(self.shifts), size=len(indexes), p=np.asarray(self.weights))
        return [int(i) + int(s) for i, s in zip(indexes, shifts, strict=True)]


def video_sampling_weights(
    frame_count: int,
    action_frames: Iterable[int],
    action_window_size: int,
    action_prob: float,
    clear_pred_window_size: int | None = None,
    predictions: tuple[np.ndarray, np.ndarray] | None = None,
    frame_weights: Iterable[float] | None = None,
) -> np.ndarray:
    """Probability of each frame of a video being a clip centre; shape (frame_count,).

    Original: src/ball_action/annotations.py:118-162 (ball), src/action/annotations.py:129-152
    (action).

    ``action_frames`` are annotated frames; ``frame_weights`` (parallel to them, default 1) give the
    per-class weights of the action task (max when a frame has several). ``predictions`` is
    ``(frame_indexes (N,), raw_predictions (N,) or (N, C))`` of an earlier model (hard negatives).
    A video without actions gets uniform weights (the original would divide by zero).
    """
    if frame_count < 1:
        raise ValueError(f"frame_count must be >= 1, got {frame_count}")
    if not 0.0 < action_prob <= 1.0:
        raise ValueError(f"action_prob must be in (0, 1], got {action_prob}")
    if clear_pred_window_size is not None and clear_pred_window_size < action_window_size:
        raise ValueError(
            f"clear_pred_window_size {clear_pred_window_size} < action_window_size "
            f"{action_window_size}"
        )
    frames = np.asarray(list(action_frames), dtype=np.int64)
    values = (np.ones(len(frames)) if frame_weights is None
              else np.asarray(list(frame_weights), dtype=np.float64))
    if values.shape != frames.shape:
        raise ValueError(f"{len(values)} frame weights for {len(frames)} action frames")
    if frames.size and (frames.min() < 0 or frames.max() >= frame_count):
        raise ValueError(f"action frame outside the video's {frame_count} frames")

    weights = np.zeros(frame_count, dtype=np.float64)
    np.maximum.at(weights, frames, values)
    if not weights.any():
        return np.full(frame_count, 1.0 / frame_count)
    # scipy's default mode ('reflect') as in the original
    band = maximum_filter(weights, size=clear_pred_window_size or action_window_size)
    weights = maximum_filter(weights, size=action_window_size)
    clear_mask = (band > 0) & (weights == 0)
    no_action_mask = weights == 0
    no_action_count = int(no_action_mask.sum())
    no_action_sum = (1.0 - action_prob) / action_prob * weights.sum()
    if no_action_count:
        background = no_action_sum / no_action_count
        weights[no_action_mask] = background
        if predictions is not None:
            pred_frames, raw = predictions
            pred_frames = np.asarray(pred_frames, dtype=np.int64)
            raw = np.asarray(raw, dtype=np.float64)
            pred = raw.max(axis=1) if raw.ndim == 2 else raw
            if pred.shape != pred_frames.shape:
                raise ValueError(f"{len(pred)} predictions for {len(pred_frames)} frame indexes")
            if pred_frames.size and (pred_frames.min() < 0 or pred_frames.max() >= frame_count):
                raise ValueError(f"predicted frame outside the video's {frame_count} frames")
            weights[pred_frames] = np.maximum(weights[pred_frames], pred)
            # predictions are naturally high just around true actions: not hard negatives
            weights[clear_mask] = background
            mass = weights[no_action_mask].sum()
            if mass > 0:
                weights[no_action_mask] *= no_action_sum / mass
    return weights / weights.sum()


def annotation_sampling_weights(
    video: HalfVideo,
    action_window_size: int,
    action_prob: float,
    clear_pred_window_size: int | None = None,
    predictions: tuple[np.ndarray, np.ndarray] | None = None,
    action_weights: Mapping[str, float] | None = None,
) -> np.ndarray:
    """:func:`video_sampling_weights` of a half from its annotations.

    Without ``action_weights`` every label weighs 1 (ball task); with them each annotation weighs
    its label's weight (action task) and a label missing from the mapping raises ``ValueError``.
    """
    frames = [a.frame for a in video.annotations]
    values = None
    if action_weights is not None:
        missing = sorted({a.label for a in video.annotations} - set(action_weights))
        if missing:
            raise ValueError(f"{video.game} half {video.half}: no action weight for {missing}")
        values = [float(action_weights[a.label]) for a in video.annotations]
    return video_sampling_weights(video.num_frames, frames, action_window_size, action_prob,
                                  clear_pred_window_size, predictions, values)


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of sample ``index`` of ``epoch``: independent of workers and draw order."""
    return np.random.default_rng([int(seed), int(epoch), int(index)])


class TrainSampler:
    """Random training clips: ``sample(epoch, index) -> (video_index, frame_indexes)``.

    Original: ``TrainActionDataset``, src/datasets.py:85-127.

    ``video_choice``: ``"uniform"`` picks every half equally often (the original), ``"length"``
    in proportion to its frame count. The shaker (None = off) widens the clip save zone by its
    largest shift so jittered clips stay inside the video.
    """

    def __init__(
        self,
        frame_counts: Sequence[int],
        weights: Sequence[np.ndarray],
        stack: StackIndexes,
        shaker: FrameIndexShaker | None = None,
        seed: int = 0,
        epoch_size: int = 6000,
        video_choice: str = "uniform",
    ) -> None:
        if not frame_counts or len(frame_counts) != len(weights):
            raise ValueError(f"{len(frame_counts)} videos but {len(weights)} weight vectors")
        if video_choice not in VIDEO_CHOICES:
            raise ValueError(f"video_choice must be one of {VIDEO_CHOICES}, got {video_choice!r}")
        self.frame_counts = [int(n) for n in frame_counts]
        self.stack = stack
        self.shaker = shaker
        self.seed = int(seed)
        self.epoch_size = int(epoch_size)
        self.video_choice = video_choice
        self.save_zone = 1 + (shaker.max_shift if shaker is not None else 0)
        self._cdfs = []
        for n, w in zip(self.frame_counts, weights, strict=True):
            w = np.asarray(w, dtype=np.float64)
            if w.shape != (n,):
                raise ValueError(f"weights of shape {w.shape} for a video of {n} frames")
            stack.clip(0, n, self.save_zone)  # raises on a video too short for a clip
            self._cdfs.append(np.cumsum(w))
        counts = np.asarray(self.frame_counts, dtype=np.float64)
        self._video_cdf = np.cumsum(counts / counts.sum())

    def __len__(self) -> int:
        return self.epoch_size

    def sample(self, epoch: int, index: int) -> tuple[int, list[int]]:
        """Video index and clip frame indexes of sample ``index`` of ``epoch``."""
        rng = sample_rng(self.seed, epoch, index)
        if self.video_choice == "uniform":
            video = int(rng.integers(len(self.frame_counts)))
        else:
            video = _draw(self._video_cdf, rng)
        centre = _draw(self._cdfs[video], rng)
        centre = self.stack.clip(centre, self.frame_counts[video], self.save_zone)
        indexes = self.stack.make(centre)
        if self.shaker is not None:
            indexes = self.shaker(indexes, rng)
        return video, indexes

    def epoch(self, epoch: int) -> list[tuple[int, list[int]]]:
        """Every sample of one epoch, in index order."""
        return [self.sample(epoch, i) for i in range(self.epoch_size)]


def _draw(cdf: np.ndarray, rng: np.random.Generator) -> int:
    """Index drawn with probabilities given by a cumulative sum (robust to rounding of its end)."""
    k = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
    return min(k, len(cdf) - 1)


def empty_action_midpoints(action_frames: Iterable[int]) -> list[int]:
    """EMPTY pseudo-action frames: ``(prev + cur) // 2`` of consecutive action frames (original:
    src/ball_action/annotations.py:46-55)."""
    frames = sorted(set(int(f) for f in action_frames))
    taken = set(frames)
    mids = ((a + b) // 2 for a, b in zip(frames, frames[1:], strict=False))
    return [m for m in mids if m not in taken]


class ValidationSampler:
    """Deterministic validation clips (original: src/datasets.py:130-145): one per action frame
    (and EMPTY midpoint) per video.

    Samples are ordered by video, then frame, so sequential decoding can reuse its buffer.
    """

    def __init__(
        self,
        frame_counts: Sequence[int],
        action_frames: Sequence[Iterable[int]],
        stack: StackIndexes,
        add_empty_actions: bool = True,
        save_zone: int = 1,
    ) -> None:
        if len(frame_counts) != len(action_frames):
            raise ValueError(f"{len(frame_counts)} videos but {len(action_frames)} action lists")
        self.stack = stack
        self.save_zone = save_zone
        self.frame_counts = [int(n) for n in frame_counts]
        self.centres: list[tuple[int, int]] = []
        for video, frames in enumerate(action_frames):
            unique = sorted(set(int(f) for f in frames))
            if add_empty_actions:
                unique = sorted(unique + empty_action_midpoints(unique))
            self.centres.extend((video, f) for f in unique)

    @classmethod
    def from_videos(
        cls, videos: Sequence[HalfVideo], stack: StackIndexes, add_empty_actions: bool = True
    ) -> ValidationSampler:
        return cls([v.num_frames for v in videos],
                   [[a.frame for a in v.annotations] for v in videos], stack, add_empty_actions)

    def __len__(self) -> int:
        return len(self.centres)

    def sample(self, index: int) -> tuple[int, list[int]]:
        """Video index and clip frame indexes of validation sample ``index``."""
        video, centre = self.centres[index]
        centre = self.stack.clip(centre, self.frame_counts[video], self.save_zone)
        return video, self.stack.make(centre)


def effective_number_weights(counts: Mapping[str, int], beta: float = 0.999) -> dict[str, float]:
    """Per-class sampling weights from class counts by the "effective number of samples" rule
    (Cui et al., 2019): ``w_c ∝ (1 - β) / (1 - β^n_c)``, normalised to sum 1 (the original's
    table, configs/action/action_sampling_weights_002.py:21-37, is of this kind, computed offline
    for the real data). A class with no sample gets weight 0.
    """
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    raw = {c: (1.0 - beta) / (1.0 - beta ** n) if n > 0 else 0.0 for c, n in counts.items()}
    total = sum(raw.values())
    if total <= 0:
        raise ValueError("no class has any sample")
    return {c: w / total for c, w in raw.items()}
