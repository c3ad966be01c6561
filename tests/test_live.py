"""Live spotting: the streaming blend, peaks and resampling equal the file path's on random
inputs; a loopback stream (MPEG-TS in real time over a pipe and over UDP) gives the events of
``ballspot spot`` on the same video, survives a pause and garbage, and leaves valid files when
killed."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from videos import event_frames

from ballspot.app.spot import spot_video
from ballspot.data.encoder import VideoWriter
from ballspot.data.resample import SourceVideo
from ballspot.live.postprocess import StreamingBlend, StreamingPeaks
from ballspot.live.sender import Faults, free_udp_port, send_mpegts
from ballspot.live.source import LiveFrame, StreamResampler
from ballspot.predict.postprocess import PostprocessParams, blend_raw_predictions, postprocess

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # 2 cores: one intra-op thread

EVENTS = [(1.6, "PASS"), (3.1, "DRIVE"), (4.9, "PASS"), (6.2, "PASS"), (8.4, "DRIVE"),
          (9.9, "PASS"), (11.3, "DRIVE")]


# -------------------------------------------------------------- streaming equals the file path

def _chunks(rng: np.random.Generator, n: int, largest: int) -> list[slice]:
    out, i = [], 0
    while i < n:
        k = int(rng.integers(1, largest + 1))
        out.append(slice(i, i + k))
        i += k
    return out


def _stream_peaks(raw: np.ndarray, first: int, params: PostprocessParams,
                  rng: np.random.Generator) -> tuple[list, int]:
    peaks, got, held = StreamingPeaks(raw.shape[1], params), [], 0
    index = np.arange(first, first + len(raw))
    for part in _chunks(rng, len(raw), 40):
        got += peaks.push(index[part], raw[part])
        held = max(held, len(peaks._raw))
    return sorted(got + peaks.finish(), key=lambda a: (a[0], a[1])), held


def test_streaming_peaks_equal_postprocess_on_random_scores() -> None:
    rng = np.random.default_rng(0)
    for _ in range(150):
        n = int(rng.integers(5, 1500))
        # sparse and dense peaks, not an endless chain (StreamingPeaks.max_open)
        raw = (rng.random((n, 2)) ** float(rng.choice([8, 30]))).astype(np.float32)
        params = PostprocessParams(gauss_sigma=float(rng.choice([1.0, 3.0])),
                                   height=float(rng.choice([0.05, 0.2])),
                                   distance=int(rng.choice([3, 15])))
        first = int(rng.integers(0, 40))
        expected = postprocess(np.arange(first, first + n), raw, params)
        got, _ = _stream_peaks(raw, first, params, rng)
        assert [a[:2] for a in got] == [a[:2] for a in expected]
        assert np.array_equal([a[2] for a in got], [a[2] for a in expected])


def test_streaming_peaks_find_plateaus_across_chunks_and_hold_little() -> None:
    rng = np.random.default_rng(1)
    raw = np.zeros((20_000, 1), np.float32)
    for start in range(50, 19_900, 137):  # flat-topped events: plateaus after smoothing
        raw[start:start + int(rng.integers(20, 60))] = rng.uniform(0.3, 1.0)
    params = PostprocessParams(3.0, 0.2, 15)
    expected = postprocess(np.arange(len(raw)), raw, params)
    got, held = _stream_peaks(raw, 0, params, rng)
    assert len(expected) > 100 and got == expected
    assert held < 300  # bounded: about the undecided part, not the stream


def test_streaming_blend_equals_the_file_blend() -> None:
    rng = np.random.default_rng(2)
    for _ in range(60):
        pairs = []
        for _ in range(int(rng.integers(1, 4))):
            a, b = int(rng.integers(0, 10)), int(rng.integers(50, 60))
            pairs.append((np.arange(a, b), rng.random((b - a, 2)).astype(np.float32)))
        blend, parts, pos = StreamingBlend([p[0][0] for p in pairs], 2), [], [0] * len(pairs)
        while any(pos[k] < len(p[0]) for k, p in enumerate(pairs)):
            k = int(rng.integers(0, len(pairs)))
            step = int(rng.integers(1, 6))
            parts.append(blend.push(k, pairs[k][0][pos[k]:pos[k] + step],
                                    pairs[k][1][pos[k]:pos[k] + step]))
            pos[k] += step
        parts.append(blend.finish())
        indexes, rows = blend_raw_predictions(pairs)
        assert np.array_equal(np.concatenate([p[0] for p in parts]), indexes)
        assert np.array_equal(np.concatenate([p[1] for p in parts]), rows)


def test_stream_resampler_takes_the_file_paths_frames() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        steps = rng.choice([1 / 30, 1 / 50, 1 / 24, 0.04], size=int(rng.integers(2, 300)))
        steps = steps * rng.uniform(0.7, 1.3, size=len(steps))
        times = np.concatenate([[0.0], np.cumsum(steps)])
        source = SourceVideo(Path("x"), 8, 8, "h264", times, 30.0)
        resampler = StreamResampler()
        frames = [LiveFrame(float(t), np.zeros((1, 1), np.uint8), 0.0) for t in times]
        chosen = [pair for f in frames for pair in resampler.push(f)] + resampler.finish()
        assert [i for i, _ in chosen] == list(range(source.num_targets))
        by_time = {f.time: k for k, f in enumerate(frames)}
        assert [by_time[f.time] for _, f in chosen] == source.target_sources().tolist()


# ------------------------------------------------------------------------ a loopback stream

@pytest.fixture(scope="module")
def event_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("live") / "match.mkv"
    with VideoWriter(path, 96, 64, fps=25, gop=25) as writer:
        for frame in event_frames(12.5, 25, 96, 64, EVENTS, seed=3):
            writer.write(frame)
    return path


def _live(args: list[str], cwd: Path, **kwargs: object) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "ballspot.cli", "spot", "--live", *args],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=False, **kwargs)


def _scores(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with path.open() as f:
        rows = list(csv.reader(f))[1:]
    return np.array([int(r[1]) for r in rows]), np.array([[float(v) for v in r[2:]]
                                                          for r in rows])


def test_a_live_pipe_gives_the_events_of_the_file(model_dir: Path, event_video: Path,
                                                  workdir: Path) -> None:
    offline = spot_video(event_video, [model_dir], workdir / "file", device="cpu",
                         overlay=False, progress=False, low_latency=True)
    consumer = _live(["-", "--model", str(model_dir), "--out", "live", "--device", "cpu"],
                     workdir, stdin=subprocess.PIPE)
    send_mpegts(event_video, consumer.stdin, realtime=True,
                faults=Faults(pause_at=5.0, pause_s=2.0))  # the sender stops, then resumes
    with contextlib.suppress(OSError, ValueError):
        consumer.stdin.close()
    consumer.stdin = None  # closed: communicate() only reads
    out, err = consumer.communicate(timeout=120)
    assert consumer.returncode == 0, err.decode()
    lines = [json.loads(line) for line in out.decode().splitlines()]
    assert [(int(e["frame"]), e["label"]) for e in lines] == \
        [(f, offline.classes[c]) for f, c, _ in offline.actions]
    assert len(lines) == len(EVENTS)
    assert np.allclose([float(e["confidence"]) for e in lines],
                       [c for *_, c in offline.actions], atol=1e-5, rtol=0)
    assert all(0 < e["latency_s"] < 30 for e in lines)
    live_i, live_s = _scores(workdir / "live" / "scores.csv")
    file_i, file_s = _scores(workdir / "file" / "scores.csv")
    assert np.array_equal(live_i, file_i)
    assert np.abs(live_s - file_s).max() <= 1.01e-5  # 5 decimals in the CSV
    results = json.loads((workdir / "live" / "results_spotting.json").read_text())
    assert [int(p["position"]) for p in results["predictions"]] == \
        [int(e["position"]) for e in lines]
    assert b"latency floor" in err


def _wait_until_bound(port: int, consumer: subprocess.Popen, timeout_s: float = 60.0) -> None:
    """Until the consumer listens on ``port`` (the CLI's imports alone take seconds; UDP sent
    before that is lost, and the stream then starts at a later keyframe)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and consumer.poll() is None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return
        time.sleep(0.1)
    raise AssertionError(f"the live consumer did not listen on port {port}")


@pytest.mark.slow  # real-time UDP through the CLI: 40 s
def test_a_udp_stream_that_pauses_and_carries_garbage_then_sigterm(
        model_dir: Path, event_video: Path, workdir: Path) -> None:
    port = free_udp_port()
    url = f"udp://127.0.0.1:{port}"
    consumer = _live([url, "--model", str(model_dir), "--out", "live", "--device", "cpu",
                      "--retry-s", "30"], workdir)
    _wait_until_bound(port, consumer)  # listening before the sender starts
    send_mpegts(event_video, url, faults=Faults(pause_at=4.0, pause_s=3.0, garbage_at=7.5,
                                                garbage_bytes=20_000))
    deadline = time.monotonic() + 60
    results = workdir / "live" / "results_spotting.json"
    while time.monotonic() < deadline:  # the events up to the end, less the undecided last
        found = json.loads(results.read_text())["predictions"] if results.exists() else []
        if found and int(found[-1]["position"]) > 9_000:
            break
        time.sleep(0.5)
    consumer.send_signal(signal.SIGTERM)
    out, err = consumer.communicate(timeout=60)
    assert consumer.returncode == 128 + signal.SIGTERM, err.decode()
    assert err.decode().strip().splitlines()[-1].startswith("ballspot: interrupted (SIGTERM)")
    assert "Traceback" not in err.decode()
    events = [json.loads(line) for line in out.decode().splitlines()]
    positions = [int(e["position"]) for e in events]
    assert any(p < 4_000 for p in positions) and any(p > 9_000 for p in positions)
    saved = json.loads(results.read_text())["predictions"]
    assert [int(p["position"]) for p in saved] == positions
    indexes, _ = _scores(workdir / "live" / "scores.csv")
    assert np.array_equal(indexes, np.arange(indexes[0], indexes[0] + len(indexes)))


def test_a_killed_live_run_leaves_valid_files(model_dir: Path, event_video: Path,
                                              workdir: Path) -> None:
    consumer = _live(["-", "--model", str(model_dir), "--out", "live", "--device", "cpu"],
                     workdir, stdin=subprocess.PIPE)
    stop = threading.Event()
    sender = threading.Thread(target=_send_quietly, args=(event_video, consumer.stdin, stop))
    sender.start()
    results = workdir / "live" / "results_spotting.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if results.exists() and json.loads(results.read_text())["predictions"]:
            break
        time.sleep(0.2)
    consumer.kill()
    consumer.wait(timeout=30)
    stop.set()
    sender.join(timeout=30)
    saved = json.loads(results.read_text())["predictions"]
    assert saved and all(p["label"] in ("PASS", "DRIVE") for p in saved)
    text = (workdir / "live" / "scores.csv").read_text()
    assert text.endswith("\n")
    indexes, scores = _scores(workdir / "live" / "scores.csv")
    assert len(indexes) > 0 and scores.shape[1] == 2


def _send_quietly(video: Path, pipe: object, stop: threading.Event) -> None:
    with contextlib.suppress(OSError, ValueError, av.FFmpegError):  # the consumer was killed
        send_mpegts(video, pipe, stop=stop)


def test_a_timestamp_jump_inside_a_connection_does_not_stop_the_frames() -> None:
    from ballspot.live.source import _Timeline

    timeline, base, times = _Timeline(), 1 / 90_000, []
    # 25 fps, then one frame stamped an hour ahead (decoded from corrupt packets), then the clock
    # again, then a wrap of the 33-bit clock to zero
    top = 2**33 - 8 * 3600
    stamps = [top + k * 3600 for k in range(5)] + [top + 10**9] + \
        [top + k * 3600 for k in range(5, 8)] + [0, 3600]
    for stamp in stamps:
        t = timeline.time(stamp, base, 25.0)
        assert timeline.last is None or t > timeline.last
        timeline.last = t
        times.append(t)
    assert np.allclose(np.diff(times), 0.04) and timeline.jumps == 3
    assert timeline.time(0, base, 25.0) <= timeline.last  # a repeat is still dropped
