"""Any video on the models' 25 fps timeline: each target frame takes the source frame nearest
to it by timestamp, so a 30, 50 or variable frame-rate file is spotted like a 25 fps one."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from ballspot.core.errors import BallspotError
from ballspot.data.soccernet import FPS
from ballspot.data.video import demux_stream, luma


@dataclass(frozen=True)
class SourceVideo:
    """A video's timeline: ``times`` (M,) float64 seconds of its frames from the first one."""

    path: Path
    width: int
    height: int
    codec: str
    times: np.ndarray
    nominal_fps: float
    origin: int = 0  # timestamp of the first frame, in time_base units
    time_base: float = 1.0  # seconds per timestamp unit

    @property
    def num_targets(self) -> int:
        """Target (25 fps) frames whose time lies within half a source frame of the last one."""
        step = float(np.median(np.diff(self.times))) if len(self.times) > 1 \
            else 1.0 / self.nominal_fps
        end = self.times[-1] + step / 2
        return int(np.floor(end * FPS - 1e-6)) + 1

    def target_sources(self) -> np.ndarray:
        """(num_targets,) index of the nearest source frame of each target frame (ties: earlier)."""
        targets = np.arange(self.num_targets) / FPS
        right = np.clip(np.searchsorted(self.times, targets), 1, len(self.times) - 1)
        left = right - 1
        if len(self.times) == 1:
            return np.zeros(len(targets), np.int64)
        use_right = (self.times[right] - targets) < (targets - self.times[left])
        return np.where(use_right, right, left).astype(np.int64)


def scan_video(path: str | Path) -> SourceVideo:
    """Demux (no decoding) the first video stream's timestamps, or a one-line BallspotError.

    Unlike a dataset video's checks (:func:`ballspot.data.video.probe_video`), any frame rate
    and a damaged tail are accepted: a user's file is spotted as far as it can be read."""
    demuxed = demux_stream(path)
    path, stamps, base = demuxed.path, demuxed.stamps, demuxed.time_base
    if demuxed.error is not None and not stamps:
        raise BallspotError(path, f"not a readable video ({demuxed.error})")
    nominal = float(demuxed.rate) if demuxed.rate else FPS
    if not stamps or base is None:
        raise BallspotError(path, "video stream has no frames with timestamps")
    raw = np.unique(np.asarray(stamps, np.int64))
    times = (raw - raw[0]).astype(np.float64) * float(base)
    if demuxed.error is not None:  # a damaged tail: spot what can be read, and say how much
        print(f"ballspot: {path}: unreadable after {len(stamps)} frames; spotting the first "
              f"{_covered(times, nominal):.1f} s only", file=sys.stderr)
    elif demuxed.container_duration and \
            _covered(times, nominal) < demuxed.container_duration - 1.0:
        print(f"ballspot: {path}: the frames cover {_covered(times, nominal):.1f} s of the "
              f"file's declared {demuxed.container_duration:.1f} s (truncated?); spotting those",
              file=sys.stderr)
    return SourceVideo(path, demuxed.width, demuxed.height, demuxed.codec, times, nominal,
                       int(raw[0]), float(base))


def _covered(times: np.ndarray, nominal_fps: float) -> float:
    """Seconds of video the frames at ``times`` cover (the last one shown for one frame)."""
    return float(times[-1]) + 1.0 / nominal_fps


def iter_resampled(source: SourceVideo) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(target index, luma (H, W))`` for every 25 fps target frame, in order.

    Decodes once, sequentially; each target gets its nearest source frame by timestamp. A
    source frame the decoder drops is replaced by the next one decoded (the last one at the end).
    """
    wanted = source.target_sources()
    total, last = len(wanted), len(source.times) - 1
    container = av.open(str(source.path))
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        target, count, frame = 0, 0, None
        try:
            for frame in container.decode(stream):
                stamp = frame.pts if frame.pts is not None else frame.dts
                if stamp is None:  # no timestamp at all: assume frames come one by one
                    index = min(count, last)
                else:
                    t = (stamp - source.origin) * source.time_base
                    index = min(int(np.searchsorted(source.times, t - 1e-9)), last)
                count += 1
                gray = None
                while target < total and wanted[target] <= index:
                    if gray is None:
                        gray = luma(frame)
                    yield target, gray
                    target += 1
                if target >= total:
                    return
        except av.FFmpegError as exc:
            if count == 0:
                raise BallspotError(source.path, f"cannot decode any frame ({exc})") from None
            print(f"ballspot: {source.path}: decoding stopped after {count} frames, "
                  f"{count / source.nominal_fps:.1f} s of the video ({exc}); the rest repeats "
                  "the last frame", file=sys.stderr)
        if frame is None:
            raise BallspotError(source.path, "the video stream decodes to no frames")
        tail = luma(frame)
        while target < total:
            yield target, tail
            target += 1
    finally:
        container.close()
