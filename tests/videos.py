"""Test videos whose frames carry their own index, encoded with the real codecs.

The index is written as 16 binary blocks (a 4x4 grid, most significant bit top-left), dark for 0 and
bright for 1, with seeded noise inside each block so that the luma varies and the encoder has real
work. Blocks are a quarter of the frame each way, large enough to survive H.264/HEVC at CRF 23.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ballspot.data.encoder import VideoWriter

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
