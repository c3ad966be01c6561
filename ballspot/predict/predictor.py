"""Per-frame prediction over a whole video with cached 2D stack features, batched (original:
lRomul/ball-action-spotting@9c47153 src/predictors.py:20-75, scripts/ball_action/predict.py:29-55).

A clip centred on frame c samples ``frame_stack_size`` frames ``c - behind, ..., c + ahead`` with
step ``frame_stack_step``; the model splits it into stacks of ``stack_size`` consecutive sampled
frames. The clip of c shares all but one stack with the clip of ``c - stack_size * step``, so each
2D stack forward is computed once and reused. Unlike the 2023 predictor (one frame at a time), new
stacks and complete clips are accumulated and run through the network in batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from ballspot.core.errors import BallspotError
from ballspot.model.frames import StackIndexes, pad_normalize
from ballspot.model.stacker import MultiDimStacker


def clip_indexes(centre: int, frame_stack_size: int, frame_stack_step: int) -> list[int]:
    """The source-frame indexes of the clip centred on ``centre``."""
    return StackIndexes(frame_stack_size, frame_stack_step).make(centre)


def prediction_range(num_frames: int, frame_stack_size: int,
                     frame_stack_step: int) -> tuple[int, int]:
    """(first, last) predicted centre of a video of ``num_frames`` frames, inclusive (original:
    scripts/ball_action/predict.py:15,36-37).

    As in the 2023 solution, one frame of safety margin on each side: ``behind + 1`` to
    ``num_frames - ahead - 2``. ``last < first`` when the video is too short.
    """
    stack = StackIndexes(frame_stack_size, frame_stack_step)
    return stack.behind + 1, num_frames - stack.ahead - 2


class StackNetwork(Protocol):
    """What the predictor runs: the 2D part stack by stack, then the 3D part and head per clip
    (the PyTorch stacker through :class:`TorchNetwork`, or an ONNX export)."""

    stack_size: int
    num_stacks: int
    num_classes: int
    dtype: torch.dtype

    def stacks(self, frames: torch.Tensor) -> torch.Tensor:
        """(n, stack_size, H, W) frames in [0, 1] -> (n, C, h, w) stack features."""

    def clips(self, features: torch.Tensor) -> torch.Tensor:
        """(n, num_stacks, C, h, w) stack features -> logits (n, num_classes)."""


class TorchNetwork:
    """:class:`StackNetwork` of a :class:`MultiDimStacker` (its parameters' dtype)."""

    def __init__(self, model: MultiDimStacker) -> None:
        self.model = model
        self.stack_size, self.num_stacks = model.stack_size, model.num_stacks
        self.num_classes = model.config.num_classes
        self.dtype = next(model.parameters()).dtype  # float64 in tests

    def stacks(self, frames: torch.Tensor) -> torch.Tensor:
        return self.model.forward_2d(frames)[:, 0]

    def clips(self, features: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.forward_3d(features))


def _check_model(model: MultiDimStacker | StackNetwork, frame_stack_size: int) -> None:
    if frame_stack_size != model.num_stacks * model.stack_size:
        raise ValueError(f"frame_stack_size={frame_stack_size} does not match the model's "
                         f"{model.num_stacks} stacks of {model.stack_size} frames")


class CachedPredictor:
    """Feed frames in increasing index order with :meth:`put`; collect (centres, probabilities).

    ``batch_frames`` clips are predicted together (their new 2D stacks in one forward_2d batch,
    the clips in one forward_3d batch). With ``tta`` the probability is the mean of the sigmoid of
    the clip and of its horizontally flipped copy. A PyTorch model is moved to ``device`` and set
    to eval; any other :class:`StackNetwork` (an ONNX export) runs as it is. Frames are uint8
    (H, W) grayscale, processed by :func:`pad_normalize` with ``size`` (W, H) and cast to the
    network's dtype. ``centre_step`` k > 1 makes :func:`predict_video_many` run the network on
    every k-th centre only (and the last) and interpolate linearly in between: k times fewer 2D
    stacks and 3D clips, for scores that the post-processing smooths over several frames anyway.
    """

    @classmethod
    def from_model_dir(cls, model_dir: str | Path, device: str | torch.device = "cpu",
                       tta: bool = False, batch_frames: int = 16, centre_step: int = 1
                       ) -> tuple[CachedPredictor, dict[str, Any]]:
        """The predictor of a model directory (its frame geometry from ``model.yaml``), with the
        resolved params that built the model."""
        from ballspot.model.folder import load_model_dir

        model, resolved = load_model_dir(model_dir, device)
        frames = resolved["frames"]
        size = tuple(frames["image_size"]) if frames.get("image_size") else None
        return cls(model, frames["frame_stack_size"], frames["frame_stack_step"], tta=tta,
                   device=device, batch_frames=batch_frames, size=size,
                   centre_step=centre_step), resolved

    def __init__(self, model: MultiDimStacker | StackNetwork, frame_stack_size: int,
                 frame_stack_step: int,
                 tta: bool = False, device: str | torch.device = "cpu", batch_frames: int = 16,
                 size: tuple[int, int] | None = None, centre_step: int = 1) -> None:
        _check_model(model, frame_stack_size)
        if batch_frames < 1:
            raise ValueError(f"batch_frames must be >= 1, got {batch_frames}")
        if centre_step < 1:
            raise ValueError(f"centre_step must be >= 1, got {centre_step}")
        self.centre_step = centre_step
        self.device = torch.device(device)
        self.network: StackNetwork = TorchNetwork(model.to(self.device).eval()) \
            if isinstance(model, torch.nn.Module) else model
        self.dtype = self.network.dtype  # frames follow the model
        self.frame_stack_size = frame_stack_size
        self.frame_stack_step = frame_stack_step
        self.stack_size = model.stack_size
        stack = StackIndexes(frame_stack_size, frame_stack_step)
        self.behind, self.ahead = stack.behind, stack.ahead
        self.tta = tta
        self.batch_frames = batch_frames
        self.size = size
        self.reset()

    def reset(self, centres: Iterable[int] | None = None) -> None:
        """Forget every frame and cached feature (call between videos); then predict only
        ``centres`` (default: every centre whose clip is complete)."""
        self._wanted = None if centres is None else set(centres)
        self._frames: dict[int, torch.Tensor] = {}
        # stack tuple -> (views, C, h, w) features; views = 2 with TTA (original, flipped)
        self._features: dict[tuple[int, ...], torch.Tensor] = {}
        self._pending: list[int] = []
        self._last_index: int | None = None

    def _stacks(self, centre: int) -> list[tuple[int, ...]]:
        indexes = clip_indexes(centre, self.frame_stack_size, self.frame_stack_step)
        return [tuple(indexes[i:i + self.stack_size])
                for i in range(0, len(indexes), self.stack_size)]

    def put(self, index: int, frame: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add frame ``index``; return the predictions now ready: centres (n,), probs (n, C)."""
        if self._last_index is not None and index <= self._last_index:
            raise ValueError(f"frames must come in increasing index order: {index} after "
                             f"{self._last_index}")
        self._last_index = index
        frame = torch.as_tensor(frame).to(self.device)
        self._frames[index] = pad_normalize(frame, self.size).to(self.dtype)
        centre = index - self.ahead
        if (self._wanted is None or centre in self._wanted) and all(
                i in self._frames
                for i in clip_indexes(centre, self.frame_stack_size, self.frame_stack_step)):
            self._pending.append(centre)
        if len(self._pending) >= self.batch_frames:
            return self._run()
        return self._empty()

    def flush(self) -> tuple[np.ndarray, np.ndarray]:
        """Predict the clips still waiting for a full batch."""
        return self._run() if self._pending else self._empty()

    def _empty(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(0, np.int64), np.zeros((0, self.network.num_classes), np.float32)

    @torch.inference_mode()
    def _run(self) -> tuple[np.ndarray, np.ndarray]:
        centres, self._pending = self._pending, []
        clips = [self._stacks(c) for c in centres]
        new = list(dict.fromkeys(s for stacks in clips for s in stacks if s not in self._features))
        # New stacks in chunks so one forward_2d batch holds at most batch_frames clips' worth.
        for start in range(0, len(new), self.batch_frames):
            chunk = new[start:start + self.batch_frames]
            frames = torch.stack([torch.stack([self._frames[i] for i in s]) for s in chunk])
            if self.tta:
                frames = torch.cat([frames, frames.flip(-1)])
            features = self.network.stacks(frames)  # (views * n, C, h, w)
            features = features.reshape(2 if self.tta else 1, len(chunk), *features.shape[1:])
            for k, stack in enumerate(chunk):
                self._features[stack] = features[:, k]
        clip_features = torch.stack([torch.stack([self._features[s] for s in stacks], dim=1)
                                     for stacks in clips])  # (n, views, stacks, C, h, w)
        n, views = clip_features.shape[:2]
        logits = self.network.clips(clip_features.flatten(0, 1))
        probs = torch.sigmoid(logits).reshape(n, views, -1).mean(1)
        # Later clips start after the last predicted centre: older frames and stacks are done.
        oldest = centres[-1] + 1 - self.behind
        self._frames = {i: f for i, f in self._frames.items() if i >= oldest}
        self._features = {s: f for s, f in self._features.items() if s[0] >= oldest}
        return np.asarray(centres, np.int64), probs.float().cpu().numpy()


def predict_video(predictor: CachedPredictor,
                  frames: Iterable[tuple[int, torch.Tensor | np.ndarray]], num_frames: int,
                  source: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Predict every centre of :func:`prediction_range` from 0-based ``(index, frame)`` pairs.

    Returns ``frame_indexes`` int64 (N,) and ``raw_predictions`` float32 (N, C), the npz arrays of
    the original (scripts/ball_action/predict.py:79-83). Frames outside the needed span are
    skipped, reading stops after the last needed frame.
    A gap in the frames raises :class:`BallspotError` naming ``source``.
    """
    return predict_video_many([predictor], frames, num_frames, source)[0]


def predict_video_many(predictors: Sequence[CachedPredictor],
                       frames: Iterable[tuple[int, torch.Tensor | np.ndarray]], num_frames: int,
                       source: str | Path | None = None,
                       transforms: Sequence[Callable[[Any], Any]] | None = None,
                       ) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`predict_video` for several predictors fed from one pass over the frames (an
    ensemble decodes the video once); ``transforms[k]`` (default none) maps each frame before
    predictor ``k`` sees it. Returns each predictor's ``(frame_indexes, raw_predictions)``,
    every centre of its range, interpolated between the run ones for a ``centre_step`` > 1.
    """
    transforms = transforms or [lambda frame: frame] * len(predictors)
    spans = [prediction_range(num_frames, p.frame_stack_size, p.frame_stack_step)
             for p in predictors]
    grids = [centre_grid(*span, p.centre_step) for p, span in zip(predictors, spans, strict=True)]
    parts: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in predictors]
    for predictor, grid in zip(predictors, grids, strict=True):
        predictor.reset(grid)
    live = [k for k, (first, last) in enumerate(spans) if last >= first]
    stop = max((spans[k][1] + predictors[k].ahead for k in live), default=-1)
    if live:
        for index, frame in frames:
            for k in live:
                predictor, (first, last) = predictors[k], spans[k]
                if first - predictor.behind <= index <= last + predictor.ahead:
                    parts[k].append(predictor.put(index, transforms[k](frame)))
            if index >= stop:
                break
    results = []
    for k, predictor in enumerate(predictors):
        first, last = spans[k]
        if last < first:
            results.append(predictor._empty())
            continue
        parts[k].append(predictor.flush())
        predictor.reset()
        indexes = np.concatenate([p[0] for p in parts[k]])
        predictions = np.concatenate([p[1] for p in parts[k]])
        grid = np.arange(first, last + 1) if grids[k] is None else np.asarray(grids[k])
        if not np.array_equal(indexes, grid):
            missing = sorted(set(grid.tolist()) - set(indexes.tolist()))
            raise BallspotError(source, f"frames missing: no prediction for {len(missing)} of "
                                        f"{len(grid)} frames, first {missing[:3]}")
        if grids[k] is not None:
            indexes, predictions = interpolate_centres(indexes, predictions, first, last)
        results.append((indexes, predictions.astype(np.float32)))
    return results


def centre_grid(first: int, last: int, step: int) -> list[int] | None:
    """The centres run with ``centre_step`` ``step``: every step-th from ``first``, and ``last``
    so that nothing is extrapolated; None (every centre) for step 1 or an empty range."""
    if step == 1 or last < first:
        return None
    grid = list(range(first, last + 1, step))
    return grid if grid[-1] == last else [*grid, last]


def interpolate_centres(indexes: np.ndarray, predictions: np.ndarray, first: int, last: int
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Every centre ``first..last`` from the run ones, linear in between per class."""
    every = np.arange(first, last + 1)
    filled = np.stack([np.interp(every, indexes, predictions[:, c])
                       for c in range(predictions.shape[1])], axis=1)
    return every.astype(np.int64), filled.astype(np.float32)


@torch.inference_mode()
def predict_naive(model: MultiDimStacker, frames: torch.Tensor | np.ndarray, frame_stack_size: int,
                  frame_stack_step: int, tta: bool = False, device: str | torch.device = "cpu",
                  batch_frames: int = 16, size: tuple[int, int] | None = None,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Reference: a full-clip forward for every centre of :func:`prediction_range`.

    ``frames`` is uint8 (N, H, W), frame i being index i. Returns the same arrays as
    :func:`predict_video`.
    """
    _check_model(model, frame_stack_size)
    device = torch.device(device)
    model = model.to(device).eval()
    dtype = next(model.parameters()).dtype
    video = pad_normalize(torch.as_tensor(frames).to(device), size).to(dtype)
    first, last = prediction_range(len(video), frame_stack_size, frame_stack_step)
    centres = list(range(first, last + 1))
    outputs = [np.zeros((0, model.config.num_classes), np.float32)]
    for start in range(0, len(centres), batch_frames):
        batch = centres[start:start + batch_frames]
        index = torch.tensor([clip_indexes(c, frame_stack_size, frame_stack_step) for c in batch],
                             device=device)
        clips = video[index]  # (n, T, H, W)
        probs = torch.sigmoid(model(clips))
        if tta:
            probs = (probs + torch.sigmoid(model(clips.flip(-1)))) / 2
        outputs.append(probs.float().cpu().numpy())
    return np.asarray(centres, np.int64), np.concatenate(outputs)
