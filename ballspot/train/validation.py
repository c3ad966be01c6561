"""Per-epoch validation: clip-level AP per class of the EMA model, pooled over DDP ranks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from ballspot.model.frames import pad_normalize
from ballspot.train import distributed
from ballspot.train.optim import focal_loss


def average_precision(targets: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Per-class (non-interpolated) average precision, (N, C) -> (C,); NaN for no positives."""
    aps = []
    for c in range(targets.shape[1]):
        order = np.argsort(-scores[:, c], kind="stable")
        hits = targets[order, c] > 0.5
        if not hits.any():
            aps.append(float("nan"))
            continue
        precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
        aps.append(float(precision[hits].mean()))
    return np.asarray(aps)


@torch.no_grad()
def evaluate_clips(model: torch.nn.Module, loader: DataLoader, classes: Sequence[str],
                   device: torch.device, pad_size: tuple[int, int] | None,
                   context: distributed.DistContext | None = None) -> dict[str, float]:
    """Validation loss and clip-level AP per class with fp32 EMA weights (original:
    src/argus_models.py:76-90, src/metrics.py:40-48).

    Under DDP (``context``) the loader holds this rank's clips ``i % world == rank``; the ranks
    pool their scores in clip order, so every rank returns the metrics of the whole set.
    """
    model.eval()
    scores, targets, losses = [], [], []
    for frames, target in loader:
        logits = model(pad_normalize(frames.to(device), pad_size))
        losses.append(focal_loss(logits, target.to(device)).item() * len(frames))
        scores.append(torch.sigmoid(logits).float().cpu().numpy())
        targets.append(target.numpy())
    if context is not None and context.enabled:
        parts = distributed.all_gather_objects((scores, targets, float(np.sum(losses))), context)
        scores = [_pool_shards([p[0] for p in parts], len(classes))]
        targets = [_pool_shards([p[1] for p in parts], len(classes))]
        losses = [sum(p[2] for p in parts)]
    aps = average_precision(np.concatenate(targets), np.concatenate(scores))
    result = {"val_loss": float(np.sum(losses) / len(np.concatenate(targets))),
              "val_ap": float(np.nanmean(aps)) if np.isfinite(aps).any() else 0.0}
    result.update({f"val_ap_{c.lower().replace(' ', '_')}": float(ap)
                   for c, ap in zip(classes, aps, strict=True)})
    return result


def _pool_shards(shards: Sequence[Sequence[np.ndarray]], width: int) -> np.ndarray:
    """Rows of rank shards (rank ``r`` holds rows ``r, r + world, ...``) back in row order."""
    arrays = [np.concatenate(s) if len(s) else np.zeros((0, width), np.float32) for s in shards]
    pooled = np.empty((sum(len(a) for a in arrays), width), np.result_type(*arrays))
    for rank, array in enumerate(arrays):
        pooled[rank::len(arrays)] = array
    return pooled
