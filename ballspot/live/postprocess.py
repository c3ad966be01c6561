"""The ensemble blend and the peak detection of :mod:`ballspot.predict.postprocess`, decided as
predictions arrive: a blended row is out once every model that reaches it has predicted it, and a
peak once no later frame can change it. The events are those of the file path.

Why a peak can be decided early: the smoothing kernel reaches ``R = int(4 sigma + 0.5)`` frames,
so a smoothed value is final ``R`` frames after it; ``find_peaks`` with ``distance`` only lets a
peak remove another within ``distance - 1`` frames, so a group of peaks whose neighbours (found
or still possible) are all at least ``distance`` away is decided on its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.ndimage
import scipy.signal

from ballspot.predict.postprocess import Action, PostprocessParams

TRUNCATE = 4.0  # the smoothing of :func:`ballspot.predict.postprocess.postprocess`


class StreamingBlend:
    """Rows of several models' raw predictions, blended as
    :func:`~ballspot.predict.postprocess.blend_raw_predictions` does (mean over the models that
    predict the frame, in model order), released in frame order.

    ``firsts[k]`` is model k's first predicted frame: a frame is complete once every model whose
    first frame is at or before it has predicted it. :meth:`finish` releases the rest (frames at
    the end that only some models reach)."""

    def __init__(self, firsts: Sequence[int], width: int) -> None:
        self.firsts, self.width = list(firsts), width
        self._rows: dict[int, list[np.ndarray | None]] = {}
        self.next = min(self.firsts)

    def push(self, k: int, indexes: np.ndarray, predictions: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        """Add model ``k``'s rows; return the rows now complete (indexes, float32 blend)."""
        for i, row in zip(indexes.tolist(), predictions, strict=True):
            self._rows.setdefault(i, [None] * len(self.firsts))[k] = row
        return self._release(final=False)

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """Every row still held, blended over the models that reached it."""
        return self._release(final=True)

    def _release(self, final: bool) -> tuple[np.ndarray, np.ndarray]:
        indexes, rows = [], []
        while self.next in self._rows or (final and self._rows):
            if self.next not in self._rows:
                self.next = min(self._rows)
            got = self._rows[self.next]
            expected = [k for k, first in enumerate(self.firsts) if first <= self.next]
            if not final and any(got[k] is None for k in expected):
                break
            present = [row for row in got if row is not None]
            total = np.zeros(present[0].shape, np.float64)
            for row in present:
                total += np.asarray(row, np.float64)
            indexes.append(self.next)
            rows.append((total / len(present)).astype(np.float32))
            del self._rows[self.next]
            self.next += 1
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, self.width), np.float32)
        return np.asarray(indexes, np.int64), np.stack(rows)


class StreamingPeaks:
    """:func:`~ballspot.predict.postprocess.postprocess` over rows that arrive in frame order.

    :meth:`push` returns the actions decided so far, :meth:`finish` the rest (smoothed with the
    file path's reflection at the last frame). Memory stays bounded: rows before the decided part
    are dropped, and a chain of peaks each less than ``distance`` from the next that is still
    open after ``max_open`` frames (30 s at 25 fps; it takes a peak above the threshold at least
    every ``distance - 1`` frames all along) is decided up to ``distance`` frames before its end,
    where the file path could still differ."""

    def __init__(self, num_classes: int, params: PostprocessParams,
                 max_open: int = 750) -> None:
        self.params = params
        self.max_open = max_open
        self.num_classes = num_classes
        self.radius = int(TRUNCATE * float(params.gauss_sigma) + 0.5)
        self.first: int | None = None  # the stream's first frame (the left reflection)
        self.start = 0  # frame of self._raw[0]
        self._raw = np.zeros((0, num_classes), np.float64)
        self._bases: list[int | None] = [None] * num_classes  # decided up to (exclusive edge)

    def push(self, indexes: np.ndarray, predictions: np.ndarray) -> list[Action]:
        """Add contiguous rows; the actions now decided, sorted by frame then class."""
        if len(indexes) == 0:
            return []
        if self.first is None:
            self.first = self.start = int(indexes[0])
        expected = self.start + len(self._raw)
        if int(indexes[0]) != expected or np.any(np.diff(indexes) != 1):
            raise ValueError(f"rows must be contiguous: got frame {int(indexes[0])}, "
                             f"expected {expected}")
        self._raw = np.concatenate([self._raw, np.asarray(predictions, np.float64)])
        actions = self._decide(final=False)
        self._trim()
        return actions

    def finish(self) -> list[Action]:
        """The actions still undecided, as the file path decides them at the end."""
        return self._decide(final=True) if len(self._raw) else []

    def _decide(self, final: bool) -> list[Action]:
        last = self.start + len(self._raw) - 1
        end = last if final else last - self.radius
        actions: list[Action] = []
        for cls in range(self.num_classes):
            actions.extend(self._decide_class(cls, end, final))
        actions.sort(key=lambda a: (a[0], a[1]))
        return actions

    def _smoothed(self, cls: int, lo: int) -> np.ndarray:
        """Smoothed values from frame ``lo`` on, equal to the file path's where final."""
        begin = max(self.start, lo - self.radius)  # self.start is self.first or early enough
        segment = self._raw[begin - self.start:, cls]
        smooth = scipy.ndimage.gaussian_filter1d(segment, sigma=self.params.gauss_sigma,
                                                 mode="reflect", truncate=TRUNCATE)
        return smooth[lo - begin:]

    def _decide_class(self, cls: int, end: int, final: bool) -> list[Action]:
        base = self._bases[cls]
        lo = self.first if base is None else base
        if end - lo < 2:
            return []
        window = self._smoothed(cls, lo)[:end - lo + 1]
        p = self.params
        kept, _ = scipy.signal.find_peaks(window, height=p.height, distance=p.distance)
        if final:
            self._bases[cls] = end
            return [(lo + int(k), cls, float(window[k])) for k in kept]
        found, _ = scipy.signal.find_peaks(window, height=p.height)
        tail = len(window) - 1  # a peak found later lies in the trailing run of equal values
        while tail > 0 and window[tail - 1] == window[tail]:  # or after it
            tail -= 1
        # groups: peaks less than `distance` apart; a group is decided once the first frame a
        # later peak could take is `distance` away from its last peak
        groups = np.split(found, np.flatnonzero(np.diff(found) >= p.distance) + 1) \
            if len(found) else []
        decided_until, open_from = -1, tail
        for group in groups:
            if tail - int(group[-1]) >= p.distance:
                decided_until = int(group[-1])
            else:
                open_from = min(tail, _plateau_start(window, int(group[0])))
                if tail - open_from > self.max_open:  # a chain of peaks that never ends
                    early = group[group <= tail - p.distance]
                    if len(early):
                        decided_until = int(early[-1])
                        later = group[group > decided_until]
                        open_from = min(tail, _plateau_start(window, int(later[0]))) \
                            if len(later) else tail
                break
        self._bases[cls] = lo + max(open_from - 1, 0)  # an edge: not a peak of the next scan
        return [(lo + int(k), cls, float(window[k])) for k in kept if k <= decided_until]

    def _trim(self) -> None:
        bases = [b for b in self._bases if b is not None]
        if len(bases) < self.num_classes:
            return
        keep_from = min(bases) - self.radius - 1
        if keep_from > self.start:
            self._raw = self._raw[keep_from - self.start:]
            self.start = keep_from


def _plateau_start(window: np.ndarray, k: int) -> int:
    while k > 0 and window[k - 1] == window[k]:
        k -= 1
    return k
