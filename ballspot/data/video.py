"""Frame fetchers: 0-based, frame-exact grayscale frames from broadcast video.

Grayscale is the decoded luma (Y) plane, bit for bit, for every backend: PyAV reads plane 0,
OpenCV returns plane 0 when its RGB conversion is off, NVDEC gives the Y half of NV12. A BGR->gray
conversion would differ from Y (by up to ~16 levels), so no backend converts colour.

Frame ``i`` is the ``i``-th frame in presentation order. :func:`probe_video` demuxes the whole
stream once (no decoding) to read every frame's timestamp: that gives the exact frame count, the
fps check, gap/variable-frame-rate detection and the truncation checks.

Default CPU backend: PyAV, chosen by measurement. Both backends run the same libavcodec decoder, so
with luma output (no colour conversion on either side) decoding dominates and they cost the same
within noise: on a 1280x720 H.264 file with 250-frame GOPs (``ballspot bench decode``, a loaded
2-core machine) PyAV took 2.2-2.9 CPU-ms per frame and 275-430 CPU-ms per random 15-frame clip
(step 2), OpenCV 2.5-3.1 ms and 260-420 ms; wall-clock rates swung either way with the load.
The tie is broken by correctness:
PyAV gives each frame's timestamp, so every returned frame's index is checked, and plane 0 is a
documented API, whereas OpenCV's unconverted output is a path its FFmpeg backend flags as untested
("multiplanar formats are not supported ... use at your own risk"; our tests pin it to PyAV's Y).
"""

from __future__ import annotations

import itertools
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import numpy as np

from ballspot.core.errors import BallspotError, first_line

BACKENDS = ("auto", "cpu", "pyav", "opencv", "nvdec")
# 8-bit formats whose plane 0 is the luma (or gray) plane
LUMA_FORMATS = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12",
                "nv21", "gray", "yuv411p", "yuvj411p", "yuv410p", "yuv440p", "yuvj440p"}
# the container may include a longer audio track, so its duration only flags large shortfalls
_CONTAINER_SLACK_S = 1.0

_notice_shown = False


@dataclass(frozen=True)
class VideoInfo:
    """A checked video stream: ``num_frames`` frames of ``width`` x ``height`` at ``fps``."""

    path: Path
    num_frames: int
    fps: float
    width: int
    height: int
    codec: str


@dataclass(frozen=True)
class _Scan:
    """What the fetchers need besides :class:`VideoInfo`: per-frame timestamps and keyframes."""

    info: VideoInfo
    pts: np.ndarray  # (num_frames,) int64 presentation timestamps in stream time base, sorted
    keyframes: np.ndarray  # sorted frame indexes of keyframes (where a seek can land)


def probe_video(path: str | Path, expect_fps: float | None = 25.0) -> VideoInfo:
    """Exact frame count and fps of a video, or :class:`BallspotError` if it is unusable.

    Rejects: missing, empty, unreadable/corrupt or truncated files, files without video, frame
    rates other than ``expect_fps`` (unless it is None), gaps and variable frame rates.
    """
    return _scan_video(path, expect_fps).info


def open_container(path: str | Path) -> av.container.InputContainer:
    """Open a media file with PyAV, or raise a one-line :class:`BallspotError` naming it
    (missing, not a file, empty, or not readable)."""
    path = Path(path)
    if not path.exists():
        raise BallspotError(path, "no such file")
    if not path.is_file():
        raise BallspotError(path, "not a file")
    if path.stat().st_size == 0:
        raise BallspotError(path, "empty file (0 bytes)")
    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc  # strerror: without the path again
        raise BallspotError(path, f"not a readable video, corrupt or truncated ({reason})") \
            from None


@dataclass(frozen=True)
class Demuxed:
    """A video stream read packet by packet without decoding: its header and every timestamp.

    ``stamps`` are in demux order (pts, or dts where a packet has no pts); ``error`` is the
    demuxer's message when it stopped early (``stamps`` then holds what came before)."""

    path: Path
    width: int
    height: int
    codec: str
    pix_fmt: str | None
    rate: Fraction | None
    time_base: Fraction | None
    stamps: list[int]
    keys: list[int]
    first_without_pts: int | None
    declared_frames: int
    stream_duration: float | None
    container_duration: float | None
    error: str | None


def demux_stream(path: str | Path) -> Demuxed:
    """Demux the first video stream of ``path`` (no decoding), or a one-line BallspotError when
    the file has no video stream or no frame size; the callers judge the rest."""
    path = Path(path)
    with open_container(path) as container:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["nothing"]
            raise BallspotError(path, f"no video stream (the file holds {', '.join(kinds)})")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if not ctx.width or not ctx.height:
            raise BallspotError(path, "video stream has no frame size (corrupt file?)")
        stamps: list[int] = []
        keys: list[int] = []
        first_without_pts, error = None, None
        try:
            for packet in container.demux(stream):
                if packet.size == 0:  # end-of-stream flush packet
                    continue
                stamp = packet.pts
                if stamp is None:
                    if first_without_pts is None:
                        first_without_pts = len(stamps)
                    stamp = packet.dts
                if stamp is None:
                    continue
                if packet.is_keyframe:
                    keys.append(stamp)
                stamps.append(stamp)
        except av.FFmpegError as exc:
            error = str(exc)
        return Demuxed(path=path, width=ctx.width, height=ctx.height, codec=ctx.name,
                       pix_fmt=ctx.pix_fmt, rate=stream.average_rate or stream.guessed_rate,
                       time_base=stream.time_base, stamps=stamps, keys=keys,
                       first_without_pts=first_without_pts, declared_frames=stream.frames,
                       stream_duration=_stream_duration_s(stream),
                       container_duration=None if container.duration is None
                       else container.duration / 1e6, error=error)


def _scan_video(path: str | Path, expect_fps: float | None) -> _Scan:
    demuxed = demux_stream(path)
    path = demuxed.path
    if not demuxed.rate:
        raise BallspotError(path, "video stream has no frame rate or size (corrupt file?)")
    if demuxed.pix_fmt is not None and demuxed.pix_fmt not in LUMA_FORMATS:
        raise BallspotError(path, f"unsupported pixel format {demuxed.pix_fmt} (need 8-bit YUV)")
    fps = float(demuxed.rate)
    if expect_fps is not None and abs(fps - expect_fps) > 1e-3:
        raise BallspotError(path, f"frame rate is {fps:g} fps, expected {expect_fps:g}")
    if demuxed.first_without_pts is not None:
        raise BallspotError(path, f"video packet {demuxed.first_without_pts} has no timestamp")
    if demuxed.error is not None:
        raise BallspotError(path, f"corrupt or truncated after {len(demuxed.stamps)} frames "
                                  f"({demuxed.error})")
    time_base = demuxed.time_base
    pts, keys = demuxed.stamps, demuxed.keys
    declared_frames = demuxed.declared_frames
    stream_duration = demuxed.stream_duration
    container_duration = demuxed.container_duration
    if not pts:
        raise BallspotError(path, "video stream has no frames")
    times = np.array(pts, dtype=np.int64)
    order = np.sort(times)
    num = len(order)
    if declared_frames and declared_frames != num:
        raise BallspotError(path, f"truncated or corrupt: the container declares {declared_frames} "
                                  f"frames but the stream holds {num}")
    covered = float((order[-1] - order[0]) * time_base) + 1.0 / fps
    if stream_duration is not None and covered < stream_duration - 0.5 / fps:
        raise BallspotError(path, f"truncated: frames cover {covered:.2f} s of the video stream's "
                                  f"declared {stream_duration:.2f} s")
    if container_duration is not None and covered < container_duration - _CONTAINER_SLACK_S:
        raise BallspotError(path, f"truncated: frames cover {covered:.2f} s of the file's declared "
                                  f"{container_duration:.2f} s")
    # after the truncation checks: a cut file also lacks frames near its (new) end
    _check_constant_rate(path, order, time_base, fps)
    keyframes = np.unique(np.searchsorted(order, np.array(keys, dtype=np.int64)))
    if keyframes.size == 0:
        raise BallspotError(path, "video stream has no keyframe")
    info = VideoInfo(path=path, num_frames=num, fps=fps, width=demuxed.width,
                     height=demuxed.height, codec=demuxed.codec)
    return _Scan(info=info, pts=order, keyframes=keyframes)


def _stream_duration_s(stream: av.VideoStream) -> float | None:
    """The video stream's own duration in seconds (mp4 header, Matroska DURATION tag), if any."""
    if stream.duration:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    if not tag:
        return None
    try:
        hours, minutes, seconds = tag.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None


def _check_constant_rate(path: Path, pts: np.ndarray, time_base: Fraction, fps: float) -> None:
    """Every step between consecutive frames must be one frame period (half a frame tolerance)."""
    if len(pts) < 2:
        return
    steps = np.diff(pts).astype(np.float64) * float(time_base) * fps
    bad = np.flatnonzero((steps < 0.5) | (steps > 1.5))
    if bad.size:
        i = int(bad[0])
        # a cut inside the last reordered (B-frame) group leaves holes among the last few frames
        problem = ("truncated or corrupt end" if i >= len(pts) - 8
                   else "variable frame rate or missing/duplicate frames")
        raise BallspotError(path, f"{problem}: frame {i + 1} comes {steps[i]:.2f} frame periods "
                                  f"after frame {i}")


class FrameFetcher(ABC):
    """Random clips and sequential reads of uint8 luma frames (H, W) by 0-based frame index."""

    name = "base"

    def __init__(self, path: str | Path, expect_fps: float | None = 25.0,
                 scan: _Scan | None = None) -> None:
        scan = scan if scan is not None else _scan_video(path, expect_fps)
        self.info: VideoInfo = scan.info
        self._pts = scan.pts
        self._keyframes = scan.keyframes
        self._next: int | None = None  # index the decoder yields next without seeking, if known

    @property
    def num_frames(self) -> int:
        return self.info.num_frames

    def fetch_clip(self, indexes: Sequence[int]) -> np.ndarray:
        """Frames at ``indexes`` (any order, duplicates allowed) as uint8 (T, H, W).

        One seek, then sequential decoding over min..max.
        """
        wanted = [self._check_index(i) for i in indexes]
        if not wanted:
            return np.empty((0, self.info.height, self.info.width), dtype=np.uint8)
        keep = set(wanted)
        frames = dict(self._checked(min(wanted), max(wanted) + 1, keep))
        return np.stack([frames[i] for i in wanted])

    def iter_frames(self, start: int = 0, stop: int | None = None
                    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, frame)`` for frames start..stop-1 (stop None: to the end)."""
        stop = self.info.num_frames if stop is None else stop
        if not 0 <= start <= stop <= self.info.num_frames:
            raise BallspotError(self.info.path, f"frame range [{start}, {stop}) is outside "
                                                f"[0, {self.info.num_frames})")
        if start < stop:
            yield from self._checked(start, stop, None)

    def _checked(self, start: int, stop: int, keep: set[int] | None
                 ) -> Iterator[tuple[int, np.ndarray]]:
        """:meth:`_decode`, with a decoder error as the one-line error naming file and frame."""
        expected = start
        try:
            for index, frame in self._decode(start, stop, keep):
                expected = index + 1
                yield index, frame
        except (av.FFmpegError, RuntimeError) as exc:
            self._next = None
            if hasattr(self, "_frames"):
                self._frames = None  # the decoder's iterator is broken: seek afresh next time
            raise BallspotError(self.info.path, f"corrupt video: decoding failed at frame "
                                                f"{expected} ({first_line(exc)})") from None

    def _check_index(self, index: int) -> int:
        index = int(index)
        if not 0 <= index < self.info.num_frames:
            raise BallspotError(self.info.path, f"frame index {index} is outside "
                                                f"[0, {self.info.num_frames})")
        return index

    def _needs_seek(self, start: int) -> bool:
        """Seek unless decoding forward from the current position is no longer than a seek."""
        if self._next is None or self._next > start:
            return True
        keyframe = int(self._keyframes[np.searchsorted(self._keyframes, start, side="right") - 1])
        return self._next < keyframe

    @abstractmethod
    def _decode(self, start: int, stop: int, keep: set[int] | None
                ) -> Iterator[tuple[int, np.ndarray]]:
        """Decode frames start..stop-1 in order; yield those in ``keep`` (None: all)."""

    @abstractmethod
    def close(self) -> None:
        """Release the decoder."""

    def __enter__(self) -> FrameFetcher:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class PyAVFetcher(FrameFetcher):
    """CPU decoding with PyAV (FFmpeg); each frame's index is checked against its timestamp."""

    name = "pyav"

    def __init__(self, path: str | Path, expect_fps: float | None = 25.0,
                 scan: _Scan | None = None, threads: int = 0) -> None:
        super().__init__(path, expect_fps, scan)
        self._container = av.open(str(self.info.path))
        self._stream = self._container.streams.video[0]
        # frame threading: 541 vs 414 frames/s sequential at 720p on 2 cores in one run here;
        # H.264/HEVC decoding is bit-exact, so the frames are the same
        self._stream.thread_type = "AUTO"
        self._stream.thread_count = threads
        self._frames: Iterator[av.VideoFrame] | None = None

    def _decode(self, start: int, stop: int, keep: set[int] | None
                ) -> Iterator[tuple[int, np.ndarray]]:
        if self._frames is None or self._needs_seek(start):
            self._seek(start)
        path = self.info.path
        expected = start
        for frame in self._frames:
            index = self._index_of(frame)
            self._next = index + 1
            if index < start:
                continue
            if index != expected:
                raise BallspotError(path, f"frame {expected} missing, decoder gave frame {index}")
            if keep is None or index in keep:
                yield index, luma(frame)
            if index + 1 >= stop:
                return
            expected = index + 1
        self._frames = None
        self._next = None
        raise BallspotError(path, f"stream ended before frame {expected}")

    def _seek(self, start: int) -> None:
        """Position the decoder on a keyframe at or before ``start``."""
        self._frames, self._next = None, None
        # seek to the keyframe's own timestamp; if the demuxer (which may index by decode
        # timestamps) still lands after ``start``, step back one keyframe at a time
        k = int(np.searchsorted(self._keyframes, start, side="right")) - 1
        for key in self._keyframes[k::-1]:
            self._container.seek(int(self._pts[key]), stream=self._stream, backward=True)
            frames = self._container.decode(self._stream)
            first = next(frames, None)
            if first is not None and self._index_of(first) <= start:
                self._frames = itertools.chain([first], frames)
                return
        raise BallspotError(self.info.path, f"cannot seek to frame {start}")

    def _index_of(self, frame: av.VideoFrame) -> int:
        pts = frame.pts
        index = int(np.searchsorted(self._pts, pts)) if pts is not None else len(self._pts)
        if index >= len(self._pts) or self._pts[index] != pts:
            raise BallspotError(self.info.path, f"decoded a frame with unknown timestamp {pts}")
        return index

    def close(self) -> None:
        container = getattr(self, "_container", None)
        if container is not None:
            self._frames = None
            container.close()
            self._container = None


def luma(frame: av.VideoFrame) -> np.ndarray:
    """The luma of a decoded frame as a contiguous uint8 (H, W) array: plane 0 (Y) of 8-bit YUV,
    else FFmpeg's conversion to gray (10-bit, RGB, palette...; BT.601 luma for RGB)."""
    if frame.format.name not in LUMA_FORMATS:
        return frame.to_ndarray(format="gray")
    plane = frame.planes[0]
    rows = np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)
    return np.ascontiguousarray(rows[:frame.height, :frame.width])


class OpenCVFetcher(FrameFetcher):
    """CPU decoding with OpenCV's FFmpeg backend, RGB conversion off so it returns plane 0 (Y)."""

    name = "opencv"

    def __init__(self, path: str | Path, expect_fps: float | None = 25.0,
                 scan: _Scan | None = None) -> None:
        super().__init__(path, expect_fps, scan)
        import cv2

        self._cv2 = cv2
        with self._quiet():
            self._cap = cv2.VideoCapture(str(self.info.path), cv2.CAP_FFMPEG,
                                         [cv2.CAP_PROP_CONVERT_RGB, 0])
        if not self._cap.isOpened():
            raise BallspotError(self.info.path, "OpenCV cannot open the video")

    @contextmanager
    def _quiet(self) -> Iterator[None]:
        # with conversion off OpenCV warns that yuv420p is "treated as 8UC1": that is plane 0,
        # the luma we want (tests check it equals PyAV's Y plane), so the warning is noise
        logging = self._cv2.utils.logging
        level = logging.getLogLevel()
        logging.setLogLevel(min(level, logging.LOG_LEVEL_ERROR))
        try:
            yield
        finally:
            logging.setLogLevel(level)

    def _decode(self, start: int, stop: int, keep: set[int] | None
                ) -> Iterator[tuple[int, np.ndarray]]:
        cap, path = self._cap, self.info.path
        if self._needs_seek(start):
            self._next = None
            if not cap.set(self._cv2.CAP_PROP_POS_FRAMES, start):
                raise BallspotError(path, f"OpenCV cannot seek to frame {start}")
            self._next = start
        shape = (self.info.height, self.info.width)
        with self._quiet():
            while self._next < stop:
                index = self._next
                self._next = None  # unknown until the grab succeeds
                if not cap.grab():
                    raise BallspotError(path, f"OpenCV cannot decode frame {index}")
                self._next = index + 1
                if index < start or (keep is not None and index not in keep):
                    continue
                ok, frame = cap.retrieve()
                if not ok or frame is None or frame.shape[:2] != shape:
                    raise BallspotError(path, f"OpenCV returned no luma plane for frame {index}")
                yield index, np.ascontiguousarray(frame[:, :, 0] if frame.ndim == 3 else frame)

    def close(self) -> None:
        cap = getattr(self, "_cap", None)
        if cap is not None:
            cap.release()
            self._cap = None


class NvdecFetcher(FrameFetcher):
    """GPU decoding with NVDEC through PyNvVideoCodec (imported lazily: it needs a driver).

    Returns the Y half of the NV12 output, copied to host numpy like the CPU backends.
    """

    name = "nvdec"
    _batch = 32  # frames per decoder call

    def __init__(self, path: str | Path, expect_fps: float | None = 25.0,
                 scan: _Scan | None = None, gpu_id: int = 0) -> None:
        super().__init__(path, expect_fps, scan)
        import PyNvVideoCodec  # raises without an NVIDIA driver
        import torch

        self._torch = torch
        self._decoder: Any = PyNvVideoCodec.SimpleDecoder(
            str(self.info.path), gpu_id=gpu_id, use_device_memory=True,
            output_color_type=PyNvVideoCodec.OutputColorType.NATIVE)
        if len(self._decoder) != self.info.num_frames:
            raise RuntimeError(f"NVDEC counts {len(self._decoder)} frames, the stream holds "
                               f"{self.info.num_frames}")

    def _decode(self, start: int, stop: int, keep: set[int] | None
                ) -> Iterator[tuple[int, np.ndarray]]:
        # the decoder seeks to the keyframe before the first index and decodes forward itself
        wanted = [i for i in range(start, stop) if keep is None or i in keep]
        height, width = self.info.height, self.info.width
        for first in range(0, len(wanted), self._batch):
            chunk = wanted[first:first + self._batch]
            frames = self._decoder.get_batch_frames_by_index(chunk)
            if len(frames) != len(chunk):
                raise BallspotError(self.info.path, f"NVDEC returned {len(frames)} frames for "
                                                    f"{len(chunk)} indexes")
            for index, frame in zip(chunk, frames, strict=True):
                # NV12 is (H * 3/2, W): the Y plane on top, interleaved UV below
                nv12 = self._torch.from_dlpack(frame)
                luma = nv12.reshape(-1, nv12.shape[-1])[:height, :width]
                if luma.shape != (height, width) or luma.dtype != self._torch.uint8:
                    raise BallspotError(self.info.path, f"NVDEC gave a {tuple(nv12.shape)} "
                                                        f"{nv12.dtype} frame, expected NV12")
                yield index, luma.cpu().numpy()

    def close(self) -> None:
        self._decoder = None


def default_cpu_backend() -> str:
    """The CPU backend used for ``cpu`` and as the NVDEC fallback (chosen by measurement)."""
    return "pyav"


_CPU_CLASSES: dict[str, type[FrameFetcher]] = {"pyav": PyAVFetcher, "opencv": OpenCVFetcher}


def open_fetcher(path: str | Path, backend: str = "auto", expect_fps: float | None = 25.0,
                 gpu_id: int = 0) -> FrameFetcher:
    """Probe ``path`` and open a fetcher on ``backend``.

    ``auto`` uses NVDEC when CUDA is available and falls back to the default CPU backend with a
    one-line notice on stderr (once per process). An explicit ``nvdec`` that cannot start raises
    :class:`BallspotError` instead: whoever asked for the GPU decoder should know it is missing.
    """
    if backend not in BACKENDS:
        raise BallspotError(path, f"unknown decode backend {backend!r}, expected one of {BACKENDS}")
    scan = _scan_video(path, expect_fps)
    if backend in ("auto", "nvdec"):
        try:
            return _open_nvdec(scan, gpu_id)
        except Exception as exc:  # noqa: BLE001 - any import/driver/init failure means no NVDEC
            reason = first_line(exc)
            if backend == "nvdec":
                raise BallspotError(path, f"NVDEC unavailable ({reason})") from exc
            _notice(f"NVDEC unavailable ({reason}); decoding on the CPU with "
                    f"{_CPU_NAMES[default_cpu_backend()]}")
    name = default_cpu_backend() if backend in ("auto", "cpu") else backend
    return _CPU_CLASSES[name](scan.info.path, scan=scan)


_CPU_NAMES = {"pyav": "PyAV", "opencv": "OpenCV"}


def _open_nvdec(scan: _Scan, gpu_id: int) -> NvdecFetcher:
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError("CUDA not available")
    return NvdecFetcher(scan.info.path, scan=scan, gpu_id=gpu_id)


def _notice(message: str) -> None:
    global _notice_shown
    if not _notice_shown:
        _notice_shown = True
        print(f"ballspot: {message}", file=sys.stderr)


def check_decodes(path: str | Path, expect_fps: float | None = 25.0) -> int:
    """Decode every frame of ``path`` on the CPU once; the frame count, or a one-line error when
    a packet does not decode or fewer frames come out than the stream holds."""
    with open_fetcher(path, "cpu", expect_fps) as fetcher:
        count = sum(1 for _ in fetcher.iter_frames())
        if count != fetcher.num_frames:
            raise BallspotError(path, f"corrupt video: {count} of {fetcher.num_frames} frames "
                                      "decode")
    return count
