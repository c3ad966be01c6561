"""``ballspot spot --live SOURCE``: events of a stream as it arrives, equal to the file path's.

Frames come from :func:`ballspot.live.source.live_frames` (reconnected with back-off), are
resampled to 25 fps by timestamp and resized per model as in ``spot``, and go through each
model's cached predictor one by one. A member's prediction is released one frame late, once the
stream is known to reach past it (the file path predicts up to ``frames - ahead - 2``); released
rows are blended (:class:`~ballspot.live.postprocess.StreamingBlend`) and an event is printed the
moment :class:`~ballspot.live.postprocess.StreamingPeaks` can confirm it: as a JSON line on
stdout (SoccerNet fields, the 25 fps frame and the latency since its frame arrived), appended to
``results_spotting.json`` (rewritten whole, atomically) and with every blended row to
``scores.csv`` (whole lines, flushed). Ctrl-C, SIGTERM or the end of the input decide the last
events as the file path does at its end, then close the files.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from ballspot.app.ensemble import FrameResizer, load_members, spot_setup
from ballspot.app.scores import scores_header, scores_rows
from ballspot.core.errors import BallspotError
from ballspot.data.soccernet import FPS
from ballspot.live.postprocess import StreamingBlend, StreamingPeaks
from ballspot.live.source import (
    LiveFrame,
    StreamResampler,
    live_frames,
    stderr_notice,
)
from ballspot.predict.postprocess import predictions_to_results, write_results

LIVE_OUTPUTS = ("results_spotting.json", "scores.csv")
# clips predicted together: the default S1 ensemble keeps up at 25 fps on 2 CPU cores with the
# lowest p95 latency that leaves room (README "Spotting a live feed", the latency table)
LIVE_BATCH_FRAMES = 4
STATUS_EVERY_S = 10.0


def latency_floor_frames(ahead: int, radius: int, distance: int) -> int:
    """Frames between an event's frame and the earliest frame that can confirm it: the clip's
    look-ahead plus the one frame held back, the smoothing radius, the peak distance, and the
    next source frame that the nearest-timestamp rule waits for."""
    return ahead + 1 + radius + distance + 1


@dataclass
class LiveStats:
    """What a live run measured: events, latencies (s), frames and the largest lag (s)."""

    events: int = 0
    latencies: list[float] = field(default_factory=list)
    frames: int = 0
    max_lag_s: float = 0.0
    floor_s: float = 0.0
    wall_s: float = 0.0

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if self.latencies else float("nan")


class _Writer:
    """``results_spotting.json`` (rewritten atomically per event) and ``scores.csv`` (appended
    in whole lines) in ``out``, plus the JSON lines on ``events``."""

    def __init__(self, out: Path, name: str, classes: Sequence[str], events: IO[str]) -> None:
        from ballspot.core.atomic import remove_leftovers

        out.mkdir(parents=True, exist_ok=True)
        remove_leftovers(out, f".{LIVE_OUTPUTS[0]}.")
        self.out, self.name, self.classes, self.events = out, name, list(classes), events
        self.predictions: list[dict[str, str]] = []
        self._write_results()
        self._scores = os.open(out / LIVE_OUTPUTS[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                               0o644)
        os.write(self._scores, scores_header(classes).encode())

    def _write_results(self) -> None:
        write_results(self.out / LIVE_OUTPUTS[0],
                      {"UrlLocal": self.name, "predictions": self.predictions})

    def rows(self, indexes: np.ndarray, rows: np.ndarray) -> None:
        if len(indexes):
            os.write(self._scores, scores_rows(indexes, rows).encode())

    def event(self, frame: int, cls: int, confidence: float, latency: float) -> None:
        item = predictions_to_results(self.name, {1: [(frame, cls, confidence)]},
                                      self.classes)["predictions"][0]
        self.predictions.append(item)
        self._write_results()
        self.events.write(json.dumps({**item, "frame": frame,
                                      "latency_s": round(latency, 3)}) + "\n")
        self.events.flush()

    def close(self) -> None:
        os.close(self._scores)


class LiveSpotter:
    """The live chain for one ensemble: feed target frames with :meth:`target`, end with
    :meth:`finish`; events go to ``emit(frame, class, confidence, latency_s)`` and blended rows
    to ``rows(indexes, rows)``."""

    def __init__(self, members: Sequence[Any], num_classes: int, post: Any,
                 emit: Callable[[int, int, float, float], None],
                 rows: Callable[[np.ndarray, np.ndarray], None]) -> None:
        self.members = list(members)
        self.predictors = [m.predictor for m in self.members]
        for predictor in self.predictors:
            predictor.reset()
        self.firsts = [p.behind + 1 for p in self.predictors]  # prediction_range's first
        self.blend = StreamingBlend(self.firsts, num_classes)
        self.peaks = StreamingPeaks(num_classes, post)
        self.emit, self.rows = emit, rows
        self.resize = FrameResizer()
        self._held: list[deque[tuple[int, np.ndarray]]] = [deque() for _ in self.predictors]
        self._arrived: dict[int, float] = {}
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self.targets = 0

    @property
    def floor_frames(self) -> int:
        ahead = max(p.ahead for p in self.predictors)
        return latency_floor_frames(ahead, self.peaks.radius, int(self.peaks.params.distance))

    def target(self, index: int, frame: LiveFrame) -> None:
        """Target frame ``index`` (consecutive from 0) with the source frame it takes."""
        self._arrived[index] = frame.arrived
        self.targets = index + 1
        for k, (member, predictor) in enumerate(zip(self.members, self.predictors,
                                                    strict=True)):
            if index >= self.firsts[k] - predictor.behind:
                centres, probs = predictor.put(index, self.resize(frame.luma, member.video_size))
                self._held[k].extend(zip(centres.tolist(), probs, strict=True))
            self._release(k, index - predictor.ahead - 1)
        self._decide(self.peaks.push(*self._blended()))

    def finish(self) -> None:
        """The end of the stream: the last predictions and events, as the file path has them."""
        for k, predictor in enumerate(self.predictors):
            centres, probs = predictor.flush()
            self._held[k].extend(zip(centres.tolist(), probs, strict=True))
            self._release(k, self.targets - predictor.ahead - 2)
            self._held[k].clear()
        indexes, rows = self._blended()
        tail_i, tail_r = self.blend.finish()
        indexes, rows = np.concatenate([indexes, tail_i]), np.concatenate([rows, tail_r])
        actions = self.peaks.push(indexes, rows) + self.peaks.finish()
        self._decide(sorted(actions, key=lambda a: (a[0], a[1])))

    def _release(self, k: int, upto: int) -> None:
        held, out_i, out_p = self._held[k], [], []
        while held and held[0][0] <= upto:
            i, p = held.popleft()
            out_i.append(i)
            out_p.append(p)
        if out_i:
            self._pending.append(self.blend.push(k, np.asarray(out_i, np.int64),
                                                 np.stack(out_p)))

    def _blended(self) -> tuple[np.ndarray, np.ndarray]:
        parts, self._pending = self._pending, []
        width = self.peaks.num_classes
        indexes = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
        rows = np.concatenate([p[1] for p in parts]) if parts else np.zeros((0, width),
                                                                             np.float32)
        self.rows(indexes, rows)
        return indexes, rows

    def _decide(self, actions: list[tuple[int, int, float]]) -> None:
        now = time.monotonic()
        for frame, cls, confidence in actions:
            self.emit(frame, cls, confidence, now - self._arrived.get(frame, now))
        keep_from = min(self.peaks.start, min(self.firsts)) - 1
        for i in [i for i in self._arrived if i < keep_from]:
            del self._arrived[i]


def spot_live(source: str, models: Sequence[str | Path] | None = None,
              out: str | Path | None = None, device: str = "auto", backend: str = "torch",
              params_path: str | Path = "params.yaml", batch_frames: int = LIVE_BATCH_FRAMES,
              retry_s: float = 60.0, events: IO[str] | None = None,
              frames: Any = None, opened: Any = None) -> LiveStats:
    """Spot ``source`` live until it ends or the run is interrupted; returns what it measured.

    ``frames`` (tests, benchmarks): an iterable of :class:`LiveFrame` instead of the source.
    ``opened``: the source from :func:`open_early`, opened by the caller before its imports and
    the models (a UDP input buffers meanwhile); None: opened once the models are loaded.
    """
    from ballspot.core.allocator import tune_allocator
    from ballspot.core.device import resolve_device
    from ballspot.pipeline.prediction import PredictConfig
    from ballspot.pipeline.schema import load_checked_params

    if batch_frames < 1:
        raise BallspotError(None, f"--batch-frames must be >= 1, got {batch_frames}")
    try:
        params = load_checked_params(params_path) if Path(params_path).is_file() else {}
        model_dirs, post = spot_setup(params, params_path, models, live=True)
        tta = PredictConfig.from_params(params.get("predict"), params_path).tta
        tune_allocator()
        members, classes = load_members(model_dirs, resolve_device(device), None, tta,
                                        batch_frames, backend)
    except BaseException:
        if opened is not None:
            opened.close()
        raise
    name = "stdin" if source == "-" else Path(source).name if "://" not in source else source
    out_dir = Path(out) if out is not None else Path("spot") / f"live-{_safe(name)}"
    writer = _Writer(out_dir, name, classes, events or sys.stdout)
    stats = LiveStats()
    spotter = LiveSpotter(members, len(classes), post, _emitter(writer, stats), writer.rows)
    stats.floor_s = spotter.floor_frames / FPS
    stderr_notice(f"live: {len(members)} model(s), latency floor {stats.floor_s:.2f} s "
                  f"({spotter.floor_frames} frames) -> {out_dir}")
    resampler, start, status_at = StreamResampler(), time.monotonic(), time.monotonic()
    origin: float | None = None  # wall clock of media time 0: the first frame's arrival
    try:
        if frames is None:
            frames = live_frames(source, retry_s=retry_s, opened=opened)
        for frame in frames:
            stats.frames += 1
            origin = frame.arrived - frame.time if origin is None else origin
            for index, chosen in resampler.push(frame):
                spotter.target(index, chosen)
            lag = (time.monotonic() - origin) - frame.time  # how far behind the input we run
            stats.max_lag_s = max(stats.max_lag_s, lag)
            if time.monotonic() - status_at >= STATUS_EVERY_S:
                status_at = time.monotonic()
                stderr_notice(_status(frame.time, lag, stats))
    finally:  # the end, Ctrl-C or SIGTERM: decide the last events, then close the files
        try:
            for index, chosen in resampler.finish():
                spotter.target(index, chosen)
            spotter.finish()
        finally:
            writer.close()
            stats.wall_s = time.monotonic() - start
    return stats


def _emitter(writer: _Writer, stats: LiveStats) -> Callable[[int, int, float, float], None]:
    def emit(frame: int, cls: int, confidence: float, latency: float) -> None:
        writer.event(frame, cls, confidence, latency)
        stats.events += 1
        stats.latencies.append(latency)
        if len(stats.latencies) > 100_000:  # bounded over hours: keep the recent ones
            del stats.latencies[:50_000]
    return emit


def _status(media_s: float, lag: float, stats: LiveStats) -> str:
    behind = f"lag {lag:.1f} s" + (" (slower than real time: falling behind)" if lag > 2.0
                                   else "")
    return (f"live: {media_s:.0f} s of video, {behind}, {stats.events} events, latency p50 "
            f"{stats.percentile(50):.2f} s p95 {stats.percentile(95):.2f} s")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[-60:] or "stream"
