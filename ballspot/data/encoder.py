"""Video encoding with PyAV (libx264/libx265): the real codecs of broadcast video."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np
from av.codec.context import Flags

from ballspot.core.atomic import atomic_path

CODECS = {"h264": "libx264", "hevc": "libx265"}
FORMATS = {".mkv": "matroska", ".mp4": "mp4"}


def _format(path: Path) -> str:
    if path.suffix not in FORMATS:
        raise ValueError(f"{path}: container must be one of {sorted(FORMATS)}")
    return FORMATS[path.suffix]


def rgb_to_yuv420p(frame: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> planar yuv420p (H * 3 / 2, W), BT.601 limited range, in integers.

    FFmpeg's own converter picks SIMD code by the CPU it runs on, and its rounding differs
    between those paths: converting here keeps the encoded bytes equal on every machine.
    """
    rgb = frame.astype(np.int32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16
    # chroma of each 2x2 block from its summed RGB (x4 fixed point, rounded once)
    height, width = r.shape

    def block_sum(c: np.ndarray) -> np.ndarray:
        return c.reshape(height // 2, 2, width // 2, 2).sum(axis=(1, 3))
    rs, gs, bs = block_sum(r), block_sum(g), block_sum(b)
    u = ((-38 * rs - 74 * gs + 112 * bs + 512) >> 10) + 128
    v = ((112 * rs - 94 * gs - 18 * bs + 512) >> 10) + 128
    planes = [y.astype(np.uint8).reshape(-1), np.clip(u, 0, 255).astype(np.uint8).reshape(-1),
              np.clip(v, 0, 255).astype(np.uint8).reshape(-1)]
    return np.concatenate(planes).reshape(height * 3 // 2, width)


class VideoWriter:
    """Encode RGB uint8 frames (H, W, 3) at a constant frame rate, atomically.

    ``gop`` is the keyframe interval in frames (broadcast files use long GOPs, e.g. 250).
    The same frames give the same bytes on any machine: RGB -> yuv420p is converted here in
    integers (FFmpeg's converter rounds differently on different CPUs), and the encoder runs one
    thread of its plain C code. ``portable=False`` lets it use the CPU's SIMD code (about 2x
    faster; the bytes may then differ between machines), for outputs that are not artefacts.
    """

    def __init__(
        self, path: str | Path, width: int, height: int, fps: int = 25, codec: str = "h264",
        gop: int = 250, crf: int = 23, preset: str = "veryfast", portable: bool = True,
    ) -> None:
        if codec not in CODECS:
            raise ValueError(f"codec must be one of {sorted(CODECS)}, got {codec!r}")
        if width % 2 or height % 2:
            raise ValueError(f"width and height must be even for yuv420p, got {width}x{height}")
        self.path = Path(path)
        self._atomic = atomic_path(self.path, suffix=self.path.suffix)
        tmp = self._atomic.__enter__()
        # bitexact: no random segment UID or encoder/date tags, so equal frames give equal bytes
        self._container = av.open(str(tmp), mode="w", format=_format(self.path),
                                  options={"fflags": "+bitexact"})
        stream = self._container.add_stream(CODECS[codec], rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.codec_context.gop_size = gop
        options = {"crf": str(crf), "preset": preset}
        if codec == "h264":
            # x264's SIMD code is not bit-exact with its C code (nor, at widths that are not a
            # multiple of 64, from run to run); the C code gives the same bytes on every machine
            options.update({"threads": "1", "keyint_min": str(gop), "sc_threshold": "0"})
            if portable:
                options["x264-params"] = "no-asm=1"
        else:
            options.update({"x265-params": f"pools=1:frame-threads=1:keyint={gop}:min-keyint={gop}"
                            ":scenecut=0:log-level=error"
                                            + (":asm=0" if portable else "")})
        stream.options = options
        stream.codec_context.flags |= Flags.bitexact
        self._stream = stream
        self._count = 0

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB uint8 frame of shape (height, width, 3)."""
        video_frame = av.VideoFrame.from_ndarray(rgb_to_yuv420p(frame), format="yuv420p")
        video_frame.pts = self._count
        self._count += 1
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)

    def close(self, ok: bool = True) -> None:
        """Flush the encoder; keep the file only when ``ok``."""
        if self._container is None:
            return
        try:
            if ok:
                for packet in self._stream.encode():
                    self._container.mux(packet)
        finally:
            self._container.close()
            self._container = None
            if ok:
                self._atomic.__exit__(None, None, None)
            else:
                self._atomic.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(ok=exc_type is None)
