"""Training targets of a clip: hard 0/1 per class, max over the clip's central frames.

Original: lRomul/ball-action-spotting@9c47153 src/target.py:8-65.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ballspot.data.soccernet import Annotation


def dense_targets(
    annotations: Iterable[Annotation], classes: Sequence[str], frame_count: int
) -> np.ndarray:
    """Per-frame targets of a half, float32 (frame_count, C).

    Multi-label: every annotation counts, so two labels on one frame are both 1. Labels outside
    ``classes`` (EMPTY, unknown) are ignored; an annotation past the end raises ``ValueError``.
    """
    column = {label: c for c, label in enumerate(classes)}
    dense = np.zeros((frame_count, len(classes)), dtype=np.float32)
    for a in annotations:
        c = column.get(a.label)
        if c is None:
            continue
        if not 0 <= a.frame < frame_count:
            raise ValueError(f"{a.label} at frame {a.frame} is outside {frame_count} frames")
        dense[a.frame, c] = 1.0
    return dense


def max_window_targets(
    dense: np.ndarray, frame_indexes: Sequence[int], window_size: int = 15
) -> np.ndarray:
    """Target of a clip, float32 (C,): max of ``dense`` (N, C) over the centre ``window_size`` rows
    of ``range(min(frame_indexes), max(frame_indexes) + 1)``.

    The span is centre-cropped dropping ``n // 2`` rows before and ``n - n // 2`` after
    (``n = span - window_size``); a span no longer than the window is used whole (the original's
    ``[left:-right]`` slice was empty when span == window).
    """
    if window_size < 1:
        raise ValueError(f"window_size must be >= 1, got {window_size}")
    first, last = int(min(frame_indexes)), int(max(frame_indexes))
    if first < 0 or last >= len(dense):
        raise ValueError(f"clip frames {first}..{last} outside a video of {len(dense)} frames")
    span = dense[first:last + 1]
    excess = len(span) - window_size
    if excess > 0:
        left = excess // 2
        span = span[left:left + window_size]
    return span.max(axis=0).astype(np.float32, copy=False)
