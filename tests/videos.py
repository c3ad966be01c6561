"""Test videos whose frames carry their own index, encoded with the real codecs.

The index is written as 16 binary blocks (a 4x4 grid, most significant bit top-left), dark for 0 and
bright for 1, with seeded noise inside each block so that the luma varies and the encoder has real
work. Blocks are a quarter of the frame each way, large enough to survive H.264/HEVC at CRF 23.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from ballspot.data.encoder import VideoWriter
from ballspot.data.soccernet import Annotation, HalfVideo
from ballspot.model.stacker import ModelConfig
from ballspot.train.config import TrainConfig
from ballspot.train.loop import train_model

GRID = 4  # blocks per side; 16 bits address 65536 frames
BITS = GRID * GRID


def index_frame(index: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """The RGB uint8 frame (height, width, 3) that encodes ``index``."""
    if not 0 <= index < 2**BITS:
        raise ValueError(f"index {index} does not fit in {BITS} bits")
    bits = np.array([(index >> (BITS - 1 - b)) & 1 for b in range(BITS)], dtype=np.uint8)
    grid = bits.reshape(GRID, GRID)
    ys = np.arange(height) * GRID // height
    xs = np.arange(width) * GRID // width
    base = np.where(grid[ys][:, xs] == 1, 215, 40).astype(np.int16)
    noise = np.random.default_rng([seed, index]).integers(-24, 25, size=(height, width))
    gray = np.clip(base + noise, 0, 255).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)


def read_index(frame: np.ndarray) -> int:
    """Decode the index from a grayscale (H, W) frame: the mean of each block's centre."""
    height, width = frame.shape[:2]
    index = 0
    for row in range(GRID):
        for col in range(GRID):
            y0, y1 = row * height // GRID, (row + 1) * height // GRID
            x0, x1 = col * width // GRID, (col + 1) * width // GRID
            dy, dx = (y1 - y0) // 4, (x1 - x0) // 4
            centre = frame[y0 + dy:y1 - dy, x0 + dx:x1 - dx]
            index = (index << 1) | int(centre.mean() > 128)
    return index


def make_index_video(path: str | Path, num_frames: int, width: int = 64, height: int = 64,
                     codec: str = "h264", gop: int = 250, fps: int = 25, seed: int = 0) -> None:
    """Encode ``num_frames`` frames where frame ``i`` shows ``i`` (see :func:`read_index`)."""
    with VideoWriter(path, width, height, fps=fps, codec=codec, gop=gop) as writer:
        for index in range(num_frames):
            writer.write(index_frame(index, width, height, seed))


def corrupt_packet(src: str | Path, dst: str | Path, packet: int) -> None:
    """Copy ``src`` to ``dst`` with packet ``packet`` (decode order) made undecodable: its first
    NAL length prefix becomes 0xFFFFFFFF. The container stays intact: demuxing cannot tell."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        s_in = inp.streams.video[0]
        s_out = out.add_stream_from_template(s_in)
        for i, pkt in enumerate(p for p in inp.demux(s_in) if p.size):
            data = bytes(pkt)
            if i == packet:
                data = b"\xff\xff\xff\xff" + data[4:]
            new = av.Packet(data)
            new.pts, new.dts, new.time_base = pkt.pts, pkt.dts, pkt.time_base
            new.is_keyframe = pkt.is_keyframe
            new.stream = s_out
            out.mux(new)


# ------------------------------------------- videos with obvious events (spot and live tests)

CLASSES = ["PASS", "DRIVE"]
PULSE_S = 0.24  # half-width of an event's triangular brightness pulse


def event_shapes(width: int, height: int) -> dict[str, np.ndarray]:
    """Where each class lights up; mirror-symmetric, so flip TTA keeps the classes apart.

    PASS: a disk low in the centre; DRIVE: a band across the top.
    """
    yy, xx = np.mgrid[0:height, 0:width]
    disk = (xx - width / 2) ** 2 + (yy - 0.65 * height) ** 2 < (0.3 * height) ** 2
    band = yy < 0.25 * height
    return {"PASS": disk, "DRIVE": band}


def _background(width: int, height: int, seed: int) -> np.ndarray:
    small = np.random.default_rng(seed).integers(40, 120, size=(4, 6)).astype(np.float32)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def event_frames(seconds: float, fps: float, width: int, height: int,
                 events: Sequence[tuple[float, str]], seed: int) -> Iterator[np.ndarray]:
    """RGB frames: a still background; each event a brightness pulse peaking at its time."""
    shapes = event_shapes(width, height)
    background = _background(width, height, seed)
    for i in range(round(seconds * fps)):
        t = i / fps
        img = background.copy()
        for time, label in events:
            a = max(0.0, 1 - abs(t - time) / PULSE_S)
            if a > 0:
                mask = shapes[label]
                img[mask] = img[mask] * (1 - a) + 255 * a
        gray = img.astype(np.uint8)
        yield np.repeat(gray[:, :, None], 3, axis=2)


def train_event_model(root: Path) -> Path:
    """A tiny model trained (about 25 s on a 2-core AVX2 CPU) on a 25 fps 96x64 video with an
    event every 1-2 s; returns its model folder under ``root``. 1+16 epochs: with 1+12 the AVX2
    kernels' rounding left it finding 2 of the 30 fps spot test's 4 events."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on a shared 2-core machine spinning OpenMP threads are 20x slower
    try:
        return _train_event_model(root)
    finally:
        torch.set_num_threads(threads)


def _train_event_model(root: Path) -> Path:
    rng = np.random.default_rng(0)
    events, t = [], 0.8
    while t < 39.2:
        # off the frame grid, as events are in videos of other frame rates
        events.append((t, CLASSES[int(rng.integers(2))]))
        t += rng.uniform(1.0, 2.0)
    path = root / "train.mkv"
    with VideoWriter(path, 96, 64, fps=25, gop=25) as writer:
        for frame in event_frames(40, 25, 96, 64, events, seed=0):
            writer.write(frame)
    video = HalfVideo("train", 1, path, 1000, 25.0, 96, 64,
                      [Annotation(1, round(t * 25), label) for t, label in events])
    # 9 frames, step 1, a 5-frame target window: a clip centred on the event is symmetric
    config = TrainConfig(seed=0, device="cpu", frame_stack_size=9, frame_stack_step=1,
                         max_targets_window_size=5, batch_size=8, base_lr=3e-3, min_base_lr=1e-5,
                         epochs_warmup=1, epochs_train=16, train_epoch_size=64, ema_decay=0.5,
                         shaker=None, augment={"enabled": False}, num_workers=0, amp=False)
    model = ModelConfig(model_name="mobilenetv3_small_050", num_classes=2, num_frames=9,
                        num_3d_blocks=1, num_3d_features=24, expansion_3d_ratio=2,
                        se_reduce_3d_ratio=8, num_3d_stack_proj=16, drop_rate=0.0,
                        drop_path_rate=0.0)
    out = root / "model"
    train_model(config, model, CLASSES, [video], [], out, root / "checkpoints", progress=False)
    return out


