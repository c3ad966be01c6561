"""A paced MPEG-TS sender: a video file remuxed (no re-encoding) to a UDP address or a binary
stream at its own speed, as a broadcast encoder would send it. It drives ``ballspot bench live``
and the loopback tests; ``pause`` and ``garbage`` stage the input faults a live spotter meets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import av
import numpy as np


@dataclass(frozen=True)
class Faults:
    """Input faults at media times (s): silence for ``pause_s`` at ``pause_at``, and
    ``garbage_bytes`` random bytes to the same UDP port at ``garbage_at``."""

    pause_at: float | None = None
    pause_s: float = 0.0
    garbage_at: float | None = None
    garbage_bytes: int = 0


def send_mpegts(video: str | Path, target: str | IO[bytes], realtime: bool = True,
                faults: Faults = Faults(),  # noqa: B008 (frozen)
                stop: threading.Event | None = None, seconds: float | None = None) -> int:
    """Send ``video``'s first video stream as MPEG-TS to ``target`` (``udp://host:port`` or a
    writable binary stream), paced by its timestamps when ``realtime``, up to ``seconds`` of
    media if given; returns the packets sent."""
    sent = 0
    with av.open(str(video)) as source:
        in_stream = source.streams.video[0]
        base = float(in_stream.time_base)
        out = av.open(target, mode="w", format="mpegts")
        try:
            out_stream = out.add_stream_from_template(in_stream)
            start, first, paused, spoiled = time.monotonic(), None, False, False
            for packet in _with_dts(source.demux(in_stream)):
                if stop is not None and stop.is_set():
                    break
                t = packet.dts * base
                first = t if first is None else first
                media = t - first
                if seconds is not None and media >= seconds:
                    break
                if faults.pause_at is not None and not paused and media >= faults.pause_at:
                    paused = True
                    time.sleep(faults.pause_s)
                    start += faults.pause_s
                if faults.garbage_at is not None and not spoiled and media >= faults.garbage_at:
                    spoiled = True
                    _spray(target, faults.garbage_bytes)
                if realtime:
                    time.sleep(max(0.0, start + media - time.monotonic()))
                packet.stream = out_stream
                out.mux(packet)
                sent += 1
        finally:
            out.close()
    return sent


def _with_dts(packets: Iterator[Any]) -> Iterator[Any]:
    """Packets with a decoding timestamp: Matroska gives none to the first packets of a stream
    with B-frames (the keyframe among them), so they get the known one less a frame each."""
    waiting: list[Any] = []
    for packet in packets:
        if packet.size == 0:  # the demuxer's end marker
            continue
        if packet.dts is None:
            waiting.append(packet)
            continue
        step = packet.duration or 1
        for k, early in enumerate(waiting):
            early.dts = packet.dts - (len(waiting) - k) * step
        yield from waiting
        waiting = []
        yield packet
    for early in waiting:  # no packet had one: presentation order is all there is
        early.dts = early.pts
    yield from waiting


def _spray(target: Any, count: int) -> None:
    """Random bytes in 1316-byte datagrams to a ``udp://host:port`` target."""
    if not isinstance(target, str) or not target.startswith("udp://"):
        raise ValueError("garbage is sent to udp:// targets only")
    host, _, port = target[len("udp://"):].split("?")[0].rpartition(":")
    noise = np.random.default_rng(0).integers(0, 256, count, dtype=np.uint8).tobytes()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for k in range(0, len(noise), 1316):
            sock.sendto(noise[k:k + 1316], (host, int(port)))


def free_udp_port() -> int:
    """A free UDP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
