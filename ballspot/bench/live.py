"""Benchmark: live-spotting latency at a real-time 25 fps input.

A sender thread writes the video as MPEG-TS into a pipe at its own speed (as a broadcast
encoder would), and the live spotter reads it; each event's latency is the wall time from the
arrival of the frame it marks to its confirmation. The floor is what the chain must wait for
(:func:`ballspot.app.live.latency_floor_frames`); a model slower than real time shows as a
growing lag, not as dropped frames.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ballspot.app.live import LIVE_BATCH_FRAMES, spot_live
from ballspot.core.errors import BallspotError
from ballspot.live.sender import send_mpegts
from ballspot.live.source import live_frames


def default_video(params_path: str | Path = "params.yaml") -> Path:
    """The first half of the first challenge game of the dataset."""
    from ballspot.data.soccernet import DatasetSpec
    from ballspot.pipeline.schema import load_checked_params

    spec = DatasetSpec.from_params(load_checked_params(params_path)["dataset"])
    game = spec.challenge[0] if spec.challenge else None
    path = spec.find_video(game, spec.halves[0]) if game else None
    if path is None or not Path(path).is_file():
        raise BallspotError(path, "no challenge video (run dvc pull, or pass a VIDEO)")
    return Path(path)


def bench_live(video: str | Path | None = None, models: Sequence[str] | None = None,
               seconds: float = 60.0, batch_frames: int = LIVE_BATCH_FRAMES,
               out: str | Path | None = None) -> dict[str, Any]:
    """Spot ``seconds`` of ``video`` sent in real time; print and return the latencies."""
    video = Path(video) if video else default_video()
    read_fd, write_fd = os.pipe()
    writer = open(write_fd, "wb", buffering=0)  # noqa: SIM115 - closed by the sender
    failure: list[BaseException] = []

    def send() -> None:
        try:
            send_mpegts(video, writer, realtime=True, seconds=seconds)
        except BaseException as exc:  # noqa: BLE001 - reported after the run
            failure.append(exc)
        finally:
            writer.close()

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        stats = spot_live(f"pipe:{read_fd}", models, out or Path("spot") / "bench-live",
                          device="cpu", batch_frames=batch_frames, events=io.StringIO(),
                          frames=live_frames(f"pipe:{read_fd}"))
    finally:
        sender.join(timeout=10)
        os.close(read_fd)
    if failure:
        raise BallspotError(video, f"the sender failed ({failure[0]})")
    report = {"events": stats.events, "frames": stats.frames, "floor_s": stats.floor_s,
              "p50_s": stats.percentile(50), "p95_s": stats.percentile(95),
              "max_lag_s": max(stats.max_lag_s, 0.0), "wall_s": stats.wall_s}
    print(f"live bench: {video.name}, {seconds:g} s at real time, batch {batch_frames}: "
          f"{stats.events} events, {stats.frames} frames")
    print(f"  latency floor {report['floor_s']:.2f} s   p50 {report['p50_s']:.2f} s   "
          f"p95 {report['p95_s']:.2f} s   largest lag {report['max_lag_s']:.2f} s")
    return report
