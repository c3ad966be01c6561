"""Live sources: frames with their timestamps and arrival times from anything FFmpeg opens as a
stream (``udp://``, ``rtsp://``, ``http(s)://...m3u8``, ``srt://``, ``-`` for standard input, a
file still being written), reconnected with back-off when the input drops, and resampled to the
models' 25 fps timeline by the file path's rule (each target frame takes the nearest source frame
by timestamp, ties to the earlier one: :meth:`ballspot.data.resample.SourceVideo.target_sources`).
"""

from __future__ import annotations

import io
import math
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from ballspot.core.errors import BallspotError, first_line
from ballspot.data.soccernet import FPS
from ballspot.data.video import luma

Notice = Callable[[str], None]


def stderr_notice(message: str) -> None:
    """The default notice: one line on stderr."""
    print(f"ballspot: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class LiveFrame:
    """A decoded frame: seconds after the stream's first frame, its luma, and when it arrived
    (``time.monotonic()``)."""

    time: float
    luma: np.ndarray
    arrived: float


class FollowFile(io.RawIOBase):
    """A file read as it grows: at its end, wait for more until it has not grown for
    ``idle_s`` seconds (the writer has finished or stopped)."""

    def __init__(self, path: str | Path, idle_s: float = 5.0, poll_s: float = 0.1) -> None:
        super().__init__()
        self.path = Path(path)
        try:
            self._file = self.path.open("rb")
        except OSError as exc:
            raise BallspotError(self.path, f"cannot open ({exc.strerror or exc})") from None
        self.idle_s, self.poll_s = idle_s, poll_s

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        waited = 0.0
        while True:
            n = self._file.readinto(buffer)
            if n:
                return n
            if waited >= self.idle_s:
                return 0
            time.sleep(self.poll_s)
            waited += self.poll_s

    def close(self) -> None:
        self._file.close()
        super().close()


def is_stream_url(source: str) -> bool:
    """A network source (reconnected when it drops), as opposed to a pipe or a local file."""
    return "://" in source and not source.startswith("file:")


def _open(source: str, timeout_s: float, follow_idle_s: float) -> Any:
    """An av container reading ``source``."""
    if source == "-":
        return av.open(sys.stdin.buffer, mode="r")
    if source.startswith("pipe:"):  # FFmpeg's pipe:N, file descriptor N
        return av.open(source, mode="r")
    if is_stream_url(source):
        options = {"rtsp_transport": "tcp"} if source.startswith("rtsp") else {}
        if source.startswith("udp://"):
            options.update({"fifo_size": "50000", "overrun_nonfatal": "1"})
        return av.open(source, mode="r", options=options, timeout=(timeout_s, timeout_s))
    if not os.path.exists(source):
        raise BallspotError(source, "no such file")
    return av.open(FollowFile(source, follow_idle_s), mode="r")


class _Timeline:
    """Stream timestamps -> seconds after the first frame, continued across reconnections.

    The first segment uses the file path's formula, ``(pts - first pts) * time_base``; a later
    segment whose clock runs on (a stream that paused) keeps its timestamps, one whose clock
    restarted is placed one frame after the last frame. So is a jump inside one connection (a
    spliced feed, a timestamp wrap, a frame decoded from corrupt packets whose timestamp lies
    far ahead): without that, every later frame would be behind it and dropped."""

    MAX_JUMP_S = 60.0
    MAX_BACK_S = 1.0  # an earlier timestamp within this is a repeat (dropped), not a new clock

    def __init__(self) -> None:
        self.origin: int | None = None
        self.offset = 0.0
        self.base = 0.0
        self.last: float | None = None
        self.step = 1.0 / FPS
        self.jumps = 0  # discontinuities inside a connection
        self._restart = False

    def restart(self) -> None:
        """A new connection: its first timestamp decides whether the clock ran on."""
        self._restart = True

    def time(self, stamp: int | None, base: float, nominal: float) -> float:
        if nominal > 0:
            self.step = 1.0 / nominal
        if stamp is None:  # no timestamps at all: frames one by one
            return 0.0 if self.last is None else self.last + self.step
        restart, self._restart = self._restart, False
        if self.origin is None:
            self.origin, self.base = stamp, base
        elif base != self.base:  # another clock: one frame on
            self.origin, self.base, self.offset = stamp, base, self.last + self.step
        t = self.offset + (stamp - self.origin) * self.base
        # a new connection must move on; inside one, a step back under MAX_BACK_S is a repeat
        low = 0.0 if restart else -self.MAX_BACK_S
        if self.last is not None and not low < t - self.last <= self.MAX_JUMP_S:
            self.origin, self.offset = stamp, self.last + self.step
            if not restart:
                self.jumps += 1
            t = self.offset
        return t


def open_early(source: str, timeout_s: float = 10.0) -> Any:
    """A network stream opened before a slow start-up (loading models), or None.

    The input buffers what arrives meanwhile (FFmpeg's UDP thread reads into its FIFO); opened
    only after the models, a UDP input misses the sender's first packets, the stream's header and
    first keyframe among them, and decodes nothing until a later keyframe. None for a pipe or a
    file (nothing is lost there) and for a stream that does not answer yet (:func:`live_frames`
    then opens it, with retries)."""
    if not is_stream_url(source):
        return None
    try:
        return _open(source, timeout_s, 0.0)
    except (av.FFmpegError, OSError):
        return None


def live_frames(source: str, timeout_s: float = 10.0, retry_s: float = 60.0,
                follow_idle_s: float = 5.0, notice: Notice = stderr_notice,
                opened: Any = None) -> Iterator[LiveFrame]:
    """Decoded frames of ``source`` in timestamp order, until it ends.

    A network source that drops (error, timeout, end of stream) is reopened with back-off
    (0.5 s doubling to 8 s) until it has given no frame for ``retry_s`` seconds; a pipe or a file
    ends at its end (a file that is still written is followed until it stops growing for
    ``follow_idle_s``). Packets that do not decode are skipped and counted in a notice; frames
    whose timestamp does not advance are dropped. ``opened``: the first connection, from
    :func:`open_early`.
    """
    state = _State(source, notice)
    delay = 0.5
    while True:
        try:
            container = opened if opened is not None else _open(source, timeout_s, follow_idle_s)
            opened = None
        except BallspotError:
            raise
        except (av.FFmpegError, OSError) as exc:
            if not is_stream_url(source):
                raise BallspotError(source, f"cannot open the stream ({first_line(exc)})"
                                    ) from None
            reason = first_line(exc)
        else:
            before = state.frames
            reason = yield from state.read(container)
            if state.frames > before:
                delay = 0.5
        if not is_stream_url(source):
            if not state.frames:
                raise BallspotError(source, f"no frame could be read ({reason})")
            return
        waited = time.monotonic() - state.last_frame_at
        if waited + delay > retry_s:
            notice(f"{source}: input dropped ({reason}); no frame for {waited:.0f} s, giving up")
            return
        notice(f"{source}: input dropped ({reason}); retrying in {delay:g} s")
        time.sleep(delay)
        delay = min(delay * 2, 8.0)
        state.timeline.restart()


class _State:
    """What :func:`live_frames` carries across connections."""

    def __init__(self, source: str, notice: Notice) -> None:
        self.source, self.notice = source, notice
        self.timeline = _Timeline()
        self.frames, self.bad = 0, 0
        self.last_frame_at = time.monotonic()

    def read(self, container: Any) -> Iterator[LiveFrame]:
        """The frames of one connection; returns why it ended."""
        try:
            if not container.streams.video:
                raise BallspotError(self.source, "no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            base = float(stream.time_base) if stream.time_base else 1.0 / FPS
            nominal = float(stream.average_rate or stream.guessed_rate or FPS)
            for packet in container.demux(stream):
                try:
                    decoded = packet.decode()
                except av.FFmpegError:
                    self._bad_packet()
                    continue
                for frame in decoded:
                    jumps = self.timeline.jumps
                    t = self.timeline.time(frame.pts if frame.pts is not None else frame.dts,
                                           base, nominal)
                    if self.timeline.jumps > jumps and _worth_telling(self.timeline.jumps):
                        self.notice(f"{self.source}: the timestamps jumped "
                                    f"({self.timeline.jumps} time(s)); continued one frame on")
                    if self.timeline.last is not None and t <= self.timeline.last:
                        continue
                    self.timeline.last, self.last_frame_at = t, time.monotonic()
                    self.frames += 1
                    yield LiveFrame(t, luma(frame), self.last_frame_at)
            return "end of stream"
        except (av.FFmpegError, OSError) as exc:
            return first_line(exc)
        finally:
            container.close()

    def _bad_packet(self) -> None:
        self.bad += 1
        if _worth_telling(self.bad):
            self.notice(f"{self.source}: {self.bad} packet(s) did not decode; skipped")


def _worth_telling(count: int) -> bool:
    """Whether a running count of skipped things gets a notice: 1, 10, 100, then every 1000."""
    return count in (1, 10, 100) or count % 1000 == 0


class StreamResampler:
    """Target (25 fps) frames as source frames arrive, by the file path's nearest-timestamp rule;
    :meth:`finish` adds the targets after the last frame (as many as the file path's
    ``SourceVideo.num_targets``)."""

    def __init__(self, fps: float = FPS) -> None:
        self.fps = fps
        self.prev: LiveFrame | None = None
        self.next_target = 0
        self._diffs: deque[float] = deque(maxlen=2000)

    def push(self, frame: LiveFrame) -> list[tuple[int, LiveFrame]]:
        """The targets this frame decides: (target index, the source frame it takes)."""
        out = []
        prev = self.prev
        if prev is not None:
            self._diffs.append(frame.time - prev.time)
        while True:
            target = self.next_target / self.fps
            if target > frame.time:
                break
            # nearest by time, ties to the earlier frame
            chosen = frame if prev is None or (frame.time - target) < (target - prev.time) \
                else prev
            out.append((self.next_target, chosen))
            self.next_target += 1
        self.prev = frame
        return out

    def finish(self) -> list[tuple[int, LiveFrame]]:
        """The targets after the last frame, each taking it."""
        if self.prev is None:
            return []
        step = float(np.median(self._diffs)) if self._diffs else 1.0 / self.fps
        total = int(math.floor((self.prev.time + step / 2) * self.fps - 1e-6)) + 1
        out = [(i, self.prev) for i in range(self.next_target, total)]
        self.next_target = max(self.next_target, total)
        return out
