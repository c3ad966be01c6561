"""Speed benchmarks whose ratios are measured in one run on one machine."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from ballspot.data.encoder import VideoWriter
from ballspot.data.video import FrameFetcher, OpenCVFetcher, PyAVFetcher, _scan_video, open_fetcher


def make_bench_video(path: str | Path, num_frames: int = 750, width: int = 1280, height: int = 720,
                     gop: int = 250, seed: int = 0) -> None:
    """Encode a broadcast-like H.264 test video: moving blobs on a panning texture with noise."""
    rng = np.random.default_rng(seed)
    field = rng.normal(0.0, 1.0, size=(height, 2 * width)).astype(np.float32)
    texture = 90 + 25 * (field + np.roll(field, 1, 0) + np.roll(field, 1, 1)) / 3
    waves = 40 * np.sin(np.arange(2 * width, dtype=np.float32) / 97)
    radius = 24
    ky, kx = np.mgrid[-radius:radius, -radius:radius].astype(np.float32)
    blob = 110 * np.exp(-(kx**2 + ky**2) / 300.0)
    blobs = rng.uniform(0, 1, size=(12, 4))
    noise = rng.normal(0.0, 4.0, size=(8, height, width)).astype(np.float32)
    with VideoWriter(path, width, height, fps=25, codec="h264", gop=gop, portable=False) as writer:
        for t in range(num_frames):
            shift = (4 * t) % width
            gray = texture[:, shift:shift + width] + waves[(t * 3) % width:][:width]
            for bx, by, vx, vy in blobs:
                cx = int(bx * width + (vx - 0.5) * 12 * t) % (width - 2 * radius)
                cy = int(by * height + (vy - 0.5) * 8 * t) % (height - 2 * radius)
                gray[cy:cy + 2 * radius, cx:cx + 2 * radius] += blob
            # fresh fine noise each frame (cycled and shifted, cheap to make)
            gray += np.roll(noise[t % len(noise)], t, axis=1)
            luma = np.clip(gray, 0, 255).astype(np.uint8)
            green = np.clip(gray * 0.9 + 20, 0, 255).astype(np.uint8)
            writer.write(np.stack([luma, green, luma[::-1]], axis=2))


def _sequential_fps(fetcher: FrameFetcher) -> float:
    """Frames/s of one full sequential read."""
    start = time.perf_counter()
    count = sum(1 for _ in fetcher.iter_frames())
    return count / (time.perf_counter() - start)


def _clips_per_s(fetcher: FrameFetcher, clips: int, clip_frames: int, step: int, seed: int
                 ) -> float:
    """Random clips/s: ``clip_frames`` frames ``step`` apart around seeded random centres."""
    span = (clip_frames - 1) * step
    num = fetcher.info.num_frames
    if span >= num:
        raise ValueError(f"a clip spans {span + 1} frames, the video has {num}")
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, num - span, size=clips)
    start = time.perf_counter()
    for first in starts:
        fetcher.fetch_clip(range(int(first), int(first) + span + 1, step))
    return clips / (time.perf_counter() - start)


def _measure(fetcher: FrameFetcher, clips: int, clip_frames: int, step: int, seed: int
             ) -> dict[str, float]:
    sequential = _sequential_fps(fetcher)
    clip_rate = _clips_per_s(fetcher, clips, clip_frames, step, seed)
    return {"sequential_fps": sequential, "clips_per_s": clip_rate,
            "clip_fps": clip_rate * clip_frames, "ratio": clip_rate * clip_frames / sequential}


def bench_decode(video: str | None, clips: int = 100, clip_frames: int = 15, step: int = 2,
                 backend: str = "auto", seed: int = 0) -> dict:
    """Print and return the loader's random clips/s next to the raw sequential decode rate.

    ``video`` None: a generated 750-frame 1280x720 H.264 .mkv with 250-frame GOPs. Rows: the
    selected backend, then both CPU backends so the default CPU choice can be checked.
    """
    with tempfile.TemporaryDirectory(prefix="ballspot-bench-") as tmp:
        path = Path(tmp) / "bench.mkv" if video is None else Path(video)
        if video is None:
            make_bench_video(path, seed=seed)
        scan = _scan_video(path, expect_fps=None)
        results: dict[str, dict[str, float]] = {}
        with open_fetcher(path, backend, expect_fps=None) as fetcher:
            selected = fetcher.name
            results[selected] = _measure(fetcher, clips, clip_frames, step, seed)
        for cls in (PyAVFetcher, OpenCVFetcher):
            if cls.name not in results:
                with cls(path, scan=scan) as fetcher:
                    results[cls.name] = _measure(fetcher, clips, clip_frames, step, seed)
    info = scan.info
    print(f"decode bench: {info.path.name if video else 'generated'} {info.width}x{info.height} "
          f"{info.codec} {info.num_frames} frames; {clips} clips of {clip_frames} frames "
          f"step {step} (seed {seed})")
    print(f"{'backend':<10}{'sequential f/s':>16}{'clips/s':>10}{'clip f/s':>10}{'ratio':>8}")
    for name, row in results.items():
        mark = " (selected)" if name == selected else ""
        print(f"{name:<10}{row['sequential_fps']:>16.1f}{row['clips_per_s']:>10.2f}"
              f"{row['clip_fps']:>10.1f}{row['ratio']:>8.2f}{mark}")
    return {"video": str(info.path) if video else None, "width": info.width,
            "height": info.height, "num_frames": info.num_frames, "clips": clips,
            "clip_frames": clip_frames, "step": step, "seed": seed, "backend": selected,
            **results[selected], "backends": results}
