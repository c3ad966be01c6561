"""Frame fetchers: frame-exact luma by 0-based index on real H.264/HEVC files, and bad inputs."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from videos import corrupt_packet, index_frame, make_index_video, read_index

from ballspot.core.errors import BallspotError
from ballspot.data import video
from ballspot.data.video import (
    NvdecFetcher,
    OpenCVFetcher,
    PyAVFetcher,
    VideoInfo,
    check_decodes,
    open_fetcher,
    probe_video,
)

FRAMES = 300
WIDTH, HEIGHT = 160, 96
GOP = 60  # several GOP boundaries in a short file; long-GOP seeking is also covered below
# (codec, container, gop)
VARIANTS = [("h264", ".mkv", GOP), ("h264", ".mp4", GOP), ("hevc", ".mkv", GOP),
            ("hevc", ".mp4", GOP), ("h264", ".mkv", 250)]
CPU_BACKENDS = ["pyav", "opencv"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, int], Path]:
    root = tmp_path_factory.mktemp("videos")
    paths = {}
    for codec, ext, gop in VARIANTS:
        path = root / f"index_{codec}_gop{gop}{ext}"
        make_index_video(path, FRAMES, WIDTH, HEIGHT, codec=codec, gop=gop)
        paths[codec, ext, gop] = path
    return paths


@pytest.fixture(scope="module")
def h264_mkv(videos: dict) -> Path:
    return videos["h264", ".mkv", GOP]


def variant_id(variant: tuple[str, str, int]) -> str:
    codec, ext, gop = variant
    return f"{codec}{ext.replace('.', '-')}-gop{gop}"


def clip_plan(num_frames: int, gop: int, seed: int = 0) -> list[list[int]]:
    """Clips that cover first/last frames, GOP boundaries, backward jumps and random positions."""
    rng = np.random.default_rng(seed)
    plans = [[0], [num_frames - 1], list(range(num_frames - 15, num_frames)),
             [gop - 2, gop - 1, gop, gop + 1],  # across a GOP boundary
             [gop + 5, 3, gop + 5, 1],  # unsorted with duplicates
             [num_frames - 1, 0],  # whole file, backwards
             [min(2 * gop, num_frames) - 1], [gop], [gop - 1]]  # each seek backwards
    for _ in range(12):
        centre = int(rng.integers(14, num_frames - 14))
        offsets = rng.permutation(np.arange(-14, 15, 2))
        plans.append([centre + int(o) for o in offsets])
    return plans


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_probe_reads_frame_count_fps_and_size_from_the_stream(videos: dict, variant: tuple
                                                              ) -> None:
    info = probe_video(videos[variant])
    assert info == VideoInfo(path=videos[variant], num_frames=FRAMES, fps=25.0, width=WIDTH,
                             height=HEIGHT, codec=variant[0])


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_random_clips_are_frame_exact(videos: dict, variant: tuple, backend: str) -> None:
    with open_fetcher(videos[variant], backend) as fetcher:
        for indexes in clip_plan(FRAMES, variant[2]):
            clip = fetcher.fetch_clip(indexes)
            assert clip.dtype == np.uint8 and clip.shape == (len(indexes), HEIGHT, WIDTH)
            assert [read_index(frame) for frame in clip] == indexes


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_sequential_reads_are_frame_exact(videos: dict, variant: tuple, backend: str) -> None:
    with open_fetcher(videos[variant], backend) as fetcher:
        seen = [(index, read_index(frame)) for index, frame in fetcher.iter_frames()]
        assert seen == [(i, i) for i in range(FRAMES)]
        middle = [(index, read_index(frame)) for index, frame in fetcher.iter_frames(97, 131)]
        assert middle == [(i, i) for i in range(97, 131)]
        # a clip right after a sequential read continues without error and stays exact
        assert [read_index(f) for f in fetcher.fetch_clip([131, 133, 135])] == [131, 133, 135]


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_cpu_backends_return_the_same_luma_plane(videos: dict, variant: tuple) -> None:
    path = videos[variant]
    with PyAVFetcher(path) as pyav_fetcher, OpenCVFetcher(path) as cv_fetcher:
        for (i, a), (j, b) in zip(pyav_fetcher.iter_frames(), cv_fetcher.iter_frames(),
                                  strict=True):
            assert i == j
            np.testing.assert_array_equal(a, b)
        indexes = [200, 17, 18, 250]
        np.testing.assert_array_equal(pyav_fetcher.fetch_clip(indexes),
                                      cv_fetcher.fetch_clip(indexes))


def test_grayscale_is_the_decoded_y_plane(h264_mkv: Path) -> None:
    with av.open(str(h264_mkv)) as container:
        frame = next(container.decode(video=0))
        y_plane = frame.to_ndarray(format="yuv420p")[:HEIGHT]
    with open_fetcher(h264_mkv, "cpu") as fetcher:
        np.testing.assert_array_equal(fetcher.fetch_clip([0])[0], y_plane)
    # limited-range luma of the bright/dark index blocks, not a full-range gray conversion
    source = index_frame(0, WIDTH, HEIGHT)[:, :, 0]
    assert abs(float(y_plane.mean()) - (16 + float(source.mean()) * 219 / 255)) < 3


@pytest.mark.gpu
@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_nvdec_matches_cpu_frame_for_frame(videos: dict, variant: tuple) -> None:
    path = videos[variant]
    with NvdecFetcher(path) as gpu, PyAVFetcher(path) as cpu:
        for indexes in clip_plan(FRAMES, variant[2]):
            np.testing.assert_array_equal(gpu.fetch_clip(indexes), cpu.fetch_clip(indexes))
        for (i, a), (j, b) in zip(gpu.iter_frames(), cpu.iter_frames(), strict=True):
            assert i == j
            np.testing.assert_array_equal(a, b)


def test_auto_without_cuda_falls_back_to_cpu_with_one_notice(
        h264_mkv: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(video, "_notice_shown", False)
    for _ in range(2):
        with open_fetcher(h264_mkv, "auto") as fetcher:
            assert isinstance(fetcher, PyAVFetcher)
            assert read_index(fetcher.fetch_clip([123])[0]) == 123
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["ballspot: NVDEC unavailable (CUDA not available); decoding on the CPU "
                     "with PyAV"]


def test_auto_falls_back_when_nvdec_fails_to_start(
        h264_mkv: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    class BrokenNvdec:
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("Failed to load NVENC library\nTROUBLESHOOTING STEPS ...")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(video, "NvdecFetcher", BrokenNvdec)
    monkeypatch.setattr(video, "_notice_shown", False)
    with open_fetcher(h264_mkv) as fetcher:
        assert fetcher.name == "pyav"
    assert capsys.readouterr().err == ("ballspot: NVDEC unavailable (Failed to load NVENC "
                                       "library); decoding on the CPU with PyAV\n")
    with pytest.raises(BallspotError, match="NVDEC unavailable"):
        open_fetcher(h264_mkv, "nvdec")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the missing-driver path")
def test_explicit_nvdec_without_gpu_is_a_clear_error(h264_mkv: Path) -> None:
    with pytest.raises(BallspotError, match=r"index_h264_gop60\.mkv: NVDEC unavailable"):
        open_fetcher(h264_mkv, "nvdec")


def test_cpu_backend_is_pyav_and_unknown_backend_is_rejected(h264_mkv: Path) -> None:
    with open_fetcher(h264_mkv, "cpu") as fetcher:
        assert isinstance(fetcher, PyAVFetcher)
    with pytest.raises(BallspotError, match="unknown decode backend"):
        open_fetcher(h264_mkv, "ffmpeg")


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_out_of_range_indexes_are_rejected(h264_mkv: Path, backend: str) -> None:
    with open_fetcher(h264_mkv, backend) as fetcher:
        for bad in ([FRAMES], [-1], [5, FRAMES + 10]):
            with pytest.raises(BallspotError, match=r"frame index -?\d+ is outside \[0, 300\)"):
                fetcher.fetch_clip(bad)
        with pytest.raises(BallspotError, match="outside"):
            list(fetcher.iter_frames(10, FRAMES + 1))
        assert fetcher.fetch_clip([]).shape == (0, HEIGHT, WIDTH)


def test_missing_and_empty_files_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(BallspotError, match=r"nope\.mkv: no such file"):
        probe_video(tmp_path / "nope.mkv")
    (tmp_path / "empty.mkv").touch()
    with pytest.raises(BallspotError, match=r"empty\.mkv: empty file"):
        open_fetcher(tmp_path / "empty.mkv")


def test_garbage_bytes_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "garbage.mkv"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(BallspotError, match=r"garbage\.mkv: not a readable video"):
        probe_video(path)


@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.999])
@pytest.mark.parametrize("ext", [".mkv", ".mp4"])
def test_truncated_files_are_rejected(videos: dict, tmp_path: Path, ext: str,
                                      fraction: float) -> None:
    data = videos["h264", ext, GOP].read_bytes()
    path = tmp_path / f"cut{ext}"
    path.write_bytes(data[:int(len(data) * fraction)])
    with pytest.raises(BallspotError, match=r"cut\.(mkv|mp4): (truncated|not a readable video)"):
        probe_video(path)


def test_audio_only_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "audio.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=48000)
        samples = (np.sin(np.arange(48000) / 10) * 8000).astype(np.int16)[None]
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 48000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    with pytest.raises(BallspotError, match=r"audio\.mp4: no video stream"):
        probe_video(path)


def test_frame_rate_other_than_expected_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "thirty.mkv"
    make_index_video(path, 40, 64, 64, fps=30)
    with pytest.raises(BallspotError, match=r"thirty\.mkv: frame rate is 30 fps, expected 25"):
        open_fetcher(path)
    assert probe_video(path, expect_fps=30).fps == 30.0
    with open_fetcher(path, "cpu", expect_fps=None) as fetcher:
        assert fetcher.info.num_frames == 40
        assert read_index(fetcher.fetch_clip([39])[0]) == 39


def test_missing_frames_in_the_timeline_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "gap.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        stream.time_base = Fraction(1, 25)
        for pts in [*range(20), *range(25, 40)]:  # frames 20..24 never shown
            frame = av.VideoFrame.from_ndarray(index_frame(pts, 64, 64), format="rgb24")
            frame.pts = pts
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with pytest.raises(BallspotError, match=r"gap\.mkv: variable frame rate or missing"):
        probe_video(path)


def test_a_corrupt_packet_in_an_intact_container_is_a_one_line_error_naming_the_frame(
        tmp_path: Path) -> None:
    good, bad = tmp_path / "good.mkv", tmp_path / "bad.mkv"
    make_index_video(good, 100, gop=25)
    corrupt_packet(good, bad, 40)
    assert probe_video(bad).num_frames == 100  # demuxing alone cannot tell
    assert check_decodes(good) == 100
    with pytest.raises(BallspotError) as info:
        check_decodes(bad)
    message = str(info.value)
    assert message.startswith(f"{bad}: corrupt video: decoding failed at frame ")
    assert "\n" not in message
    with PyAVFetcher(bad) as fetcher, pytest.raises(BallspotError, match="decoding failed"):
        fetcher.fetch_clip(list(range(30, 50)))
