"""Pictures of predictions: a timeline PNG of a whole half and an overlay video with live scores.

Shared by ``ballspot spot`` (any video) and ``ballspot visualize`` (a dataset game from pipeline
predictions, ground truth drawn in its own lane). Scores are per-frame probabilities at 25 fps;
times are ms of the video's own clock (0 = its first frame).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ballspot.core.atomic import atomic_path
from ballspot.core.errors import BallspotError

if TYPE_CHECKING:
    pass

# colour per class, cycling (RGB 0-255); matplotlib's tab10 so the PNG and the video agree
_PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
            (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
ROW_SECONDS = 300.0  # one timeline row: 5 minutes, so a 45-minute half is 9 readable rows
WINDOW_S = 4.0  # the overlay's rolling score graph shows the last 4 seconds
BANNER_S = 1.0  # an event's label stays on screen this long after its time
VISUALIZE_OUTPUTS = ("timeline.png", "overlay.mp4")


@dataclass(frozen=True)
class Event:
    """A spotted action or a ground-truth label: time (ms), class index, confidence (1 for GT)."""

    time_ms: float
    cls: int
    confidence: float = 1.0


def class_color(cls: int) -> tuple[int, int, int]:
    """RGB colour (0-255) of class ``cls``."""
    return _PALETTE[cls % len(_PALETTE)]


def _mmss(seconds: float, _: object = None) -> str:
    sign = "-" if seconds < 0 else ""
    seconds = abs(int(round(seconds)))
    return f"{sign}{seconds // 60:02d}:{seconds % 60:02d}"


def plot_timeline(path: str | Path, times_ms: np.ndarray, scores: np.ndarray,
                  classes: Sequence[str], events: Sequence[Event],
                  ground_truth: Sequence[Event] | None = None, title: str = "",
                  row_seconds: float = ROW_SECONDS) -> None:
    """Scores (N, C) at ``times_ms`` (N,) per class over time, spotted events marked, as a PNG.

    The time axis (mm:ss) is cut into stacked rows of ``row_seconds``; events are triangles at
    their confidence with a faint vertical line; ground truth, if given, is ticks in a lane
    below the scores (one sub-lane per class). Written atomically.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    seconds = np.asarray(times_ms, dtype=np.float64) / 1000.0
    scores = np.asarray(scores)
    ends = [seconds[-1] if len(seconds) else 0.0]
    ends += [e.time_ms / 1000.0 for e in [*events, *(ground_truth or [])]]
    duration = max(max(ends), 1.0)
    row_seconds = min(row_seconds, duration)
    rows = max(1, math.ceil(duration / row_seconds - 1e-9))
    lanes = len(classes) if ground_truth is not None else 0
    lane_h = 0.12
    bottom = -lane_h * lanes - 0.03 if lanes else -0.03
    fig, axes = plt.subplots(rows, 1, figsize=(16, 1.7 * rows + 0.8), squeeze=False)
    colors = [tuple(v / 255 for v in class_color(c)) for c in range(len(classes))]
    tick = max(1.0, _nice_step(row_seconds / 10))
    for r, ax in enumerate(axes[:, 0]):
        lo, hi = r * row_seconds, (r + 1) * row_seconds
        inside = (seconds >= lo - 1) & (seconds <= hi + 1)
        for c, name in enumerate(classes):
            ax.plot(seconds[inside], scores[inside, c], color=colors[c], lw=0.8,
                    label=name if r == 0 else None)
        for e in events:
            t = e.time_ms / 1000.0
            if lo <= t <= hi:
                ax.axvline(t, color=colors[e.cls], lw=0.6, alpha=0.35)
                ax.plot([t], [min(e.confidence, 1.0)], marker="v", color=colors[e.cls], ms=6,
                        mec="black", mew=0.4)
        for e in ground_truth or []:
            t = e.time_ms / 1000.0
            if lo <= t <= hi:
                y0 = -lane_h * (e.cls + 1)
                ax.plot([t, t], [y0 + 0.01, y0 + lane_h - 0.01], color=colors[e.cls], lw=1.5)
        if lanes:
            ax.axhline(0, color="black", lw=0.4)
            for c, name in enumerate(classes):
                ax.text(lo, -lane_h * (c + 0.5), f" GT {name}", fontsize=6, va="center",
                        color=colors[c])
        ax.set_xlim(lo, hi)
        ax.set_ylim(bottom, 1.05)
        ax.set_yticks([0, 0.5, 1])
        ax.xaxis.set_major_locator(MultipleLocator(tick))
        ax.xaxis.set_major_formatter(FuncFormatter(_mmss))
        ax.tick_params(labelsize=7)
        ax.grid(axis="x", lw=0.3, alpha=0.5)
    axes[0, 0].legend(loc="upper right", fontsize=7, ncol=len(classes))
    axes[-1, 0].set_xlabel("time (mm:ss); ▼ spotted event at its confidence"
                           + ("; ticks below 0: ground truth" if lanes else ""), fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _nice_step(value: float) -> float:
    """The smallest clock-friendly tick step (s) of at least ``value``: 1, 2, 5, 10, 15, 30 s..."""
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if step >= value:
            return float(step)
    return 3600.0 * math.ceil(value / 3600.0)


class OverlayPainter:
    """Draws the rolling score graph, event markers and labels on RGB frames (OpenCV).

    ``times_ms`` (N,) and ``scores`` (N, C) are the 25 fps per-frame scores; ``events`` the
    spotted actions; ``ground_truth`` optional labels drawn as ticks in a lane under the graph.
    """

    def __init__(self, width: int, height: int, times_ms: np.ndarray, scores: np.ndarray,
                 classes: Sequence[str], events: Sequence[Event],
                 ground_truth: Sequence[Event] | None = None, window_s: float = WINDOW_S) -> None:
        import cv2

        self.cv2 = cv2
        self.width, self.height = width, height
        self.times = np.asarray(times_ms, dtype=np.float64)
        self.scores = np.asarray(scores, dtype=np.float64)
        self.classes = list(classes)
        self.events = sorted(events, key=lambda e: e.time_ms)
        self.event_times = np.array([e.time_ms for e in self.events], dtype=np.float64)
        self.gt = sorted(ground_truth or [], key=lambda e: e.time_ms)
        self.has_gt = ground_truth is not None
        self.window_ms = window_s * 1000.0
        self.scale = max(0.3, height / 720)
        self.font = cv2.FONT_HERSHEY_SIMPLEX
        self.thick = max(1, round(height / 400))
        # the graph: bottom 30 % of the frame (at least 40 px), full width with a margin
        panel = max(40, int(height * 0.3))
        self.panel_top = height - panel
        self.lane_h = max(4, int(panel * 0.07)) if self.has_gt else 0
        self.gx0, self.gx1 = int(width * 0.02), int(width * 0.98)
        self.gy0 = self.panel_top + max(3, int(panel * 0.08))
        self.gy1 = height - max(3, int(panel * 0.06)) - self.lane_h * len(self.classes)

    def _x(self, t_ms: np.ndarray | float, now: float) -> np.ndarray | float:
        return self.gx0 + (np.asarray(t_ms) - (now - self.window_ms)) / self.window_ms \
            * (self.gx1 - self.gx0)

    def _y(self, value: np.ndarray | float) -> np.ndarray | float:
        return self.gy1 - np.clip(value, 0, 1) * (self.gy1 - self.gy0)

    def draw(self, frame: np.ndarray, now_ms: float) -> np.ndarray:
        """Paint the overlay for video time ``now_ms`` on an RGB uint8 (H, W, 3) frame copy."""
        cv2 = self.cv2
        out = np.array(frame, copy=True)
        region = out[self.panel_top:]
        region[:] = (region.astype(np.uint16) * 2 // 5).astype(np.uint8)  # darken for contrast
        lo = now_ms - self.window_ms
        for level in (0.0, 0.5, 1.0):
            y = int(self._y(level))
            cv2.line(out, (self.gx0, y), (self.gx1, y), (90, 90, 90), 1)
        a, b = np.searchsorted(self.times, [lo, now_ms], side="right")
        a = max(a - 1, 0)
        for c in range(len(self.classes)):
            if b - a >= 2:
                xs = self._x(self.times[a:b], now_ms)
                ys = self._y(self.scores[a:b, c])
                pts = np.stack([xs, ys], axis=1).round().astype(np.int32)
                cv2.polylines(out, [pts], False, class_color(c), self.thick, cv2.LINE_AA)
            # legend with the current score, top-left of the graph
            value = self.scores[b - 1, c] if b > 0 else 0.0
            text = f"{self.classes[c]} {value:.2f}"
            org = (self.gx0 + 4 + c * int(150 * self.scale), self.gy0 + int(14 * self.scale))
            cv2.putText(out, text, org, self.font, 0.45 * self.scale, class_color(c),
                        self.thick, cv2.LINE_AA)
        i0 = int(np.searchsorted(self.event_times, lo, side="left"))
        i1 = int(np.searchsorted(self.event_times, now_ms, side="right"))
        for e in self.events[i0:i1]:
            x = int(self._x(e.time_ms, now_ms))
            y = int(self._y(e.confidence))
            color = class_color(e.cls)
            cv2.line(out, (x, self.gy0), (x, self.gy1), color, 1)
            size = max(4, int(6 * self.scale))
            tri = np.array([[x - size, y - 2 * size], [x + size, y - 2 * size], [x, y]], np.int32)
            cv2.fillPoly(out, [tri], color)
        for e in self.gt:
            if lo <= e.time_ms <= now_ms:
                x = int(self._x(e.time_ms, now_ms))
                y0 = self.gy1 + self.lane_h * e.cls + 2
                cv2.line(out, (x, y0), (x, y0 + self.lane_h - 2), class_color(e.cls),
                         max(2, self.thick))
        if self.has_gt:
            cv2.putText(out, "GT", (2, self.gy1 + self.lane_h * len(self.classes) - 2),
                        self.font, 0.35 * self.scale, (230, 230, 230), 1, cv2.LINE_AA)
        self._banners(out, now_ms)
        return out

    def _banners(self, out: np.ndarray, now_ms: float) -> None:
        """Big labels of the events of the last ``BANNER_S`` seconds, newest at the top."""
        cv2 = self.cv2
        i0, i1 = np.searchsorted(self.event_times, [now_ms - BANNER_S * 1000, now_ms],
                                 side="right")
        y = int(36 * self.scale)
        for e in reversed(self.events[i0:i1]):
            text = f"{self.classes[e.cls]} {e.confidence:.2f}"
            size = 0.9 * self.scale
            (tw, th), base = cv2.getTextSize(text, self.font, size, 2 * self.thick)
            x = int(12 * self.scale)
            cv2.rectangle(out, (x - 4, y - th - 6), (x + tw + 4, y + base + 2), (0, 0, 0), -1)
            cv2.putText(out, text, (x, y), self.font, size, class_color(e.cls), 2 * self.thick,
                        cv2.LINE_AA)
            y += th + base + 12


def render_overlay(video: str | Path, out_path: str | Path, times_ms: np.ndarray,
                   scores: np.ndarray, classes: Sequence[str], events: Sequence[Event],
                   ground_truth: Sequence[Event] | None = None, progress: bool = True,
                   total_frames: int | None = None) -> int:
    """Re-encode ``video`` (H.264, its own fps and size) with the score overlay; returns frames.

    The output is constant-rate at the stream's average frame rate, one output frame per decoded
    frame. H.264 4:2:0 needs even sizes: an odd width/height gets one black column/row.
    """
    import av
    from tqdm import tqdm

    from ballspot.data.encoder import VideoWriter

    video = Path(video)
    try:
        container = av.open(str(video))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise BallspotError(video, f"not a readable video ({exc})") from None
    with container:
        if not container.streams.video:
            raise BallspotError(video, "no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        width, height = stream.codec_context.width, stream.codec_context.height
        rate = Fraction(stream.average_rate or stream.guessed_rate or 25).limit_denominator(100000)
        total = total_frames or stream.frames or None  # for the progress bar only
        painter = OverlayPainter(width, height, times_ms, scores, classes, events, ground_truth)
        out_w, out_h = width + width % 2, height + height % 2
        canvas = np.zeros((out_h, out_w, 3), np.uint8)
        count, first_pts = 0, None
        bar = tqdm(total=total, desc="overlay", unit="frame", disable=not progress,
                   file=sys.stderr, leave=False)
        # fps may be a Fraction (29.97 = 30000/1001): the writer builds its time base from it
        with VideoWriter(out_path, out_w, out_h, fps=rate, crf=23,  # type: ignore[arg-type]
                         portable=False) as writer:  # an overlay to watch, not an artefact
            try:
                for frame in container.decode(stream):
                    if frame.pts is not None and first_pts is None:
                        first_pts = frame.pts
                    if frame.pts is not None and stream.time_base is not None:
                        now = float((frame.pts - first_pts) * stream.time_base) * 1000.0
                    else:
                        now = count * 1000.0 / float(rate)
                    rgb = frame.to_ndarray(format="rgb24")
                    canvas[:height, :width] = painter.draw(rgb, now)
                    writer.write(canvas)
                    count += 1
                    bar.update()
            except av.FFmpegError as exc:
                raise BallspotError(video, f"corrupt after {count} frames ({exc})") from None
        bar.close()
    return count
