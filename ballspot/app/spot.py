"""Spot ball actions in any video: resample to 25 fps, resize, predict (one model or an ensemble).

Any container/codec FFmpeg reads, any size and frame rate (constant or variable). Target frame
``i`` is the model's 25 fps frame at time ``i / 25`` s after the video's first frame; it takes the
nearest decoded source frame by timestamp, its luma (Y) plane resized to the model's training
video size (``frames.video_size`` of model.yaml; the video's own size if absent), then padded by
the predictor. Output times are ms of the input video (0 = its first frame), so target frame i is
at ``round(i * 40)`` ms, the SoccerNet position rule at 25 fps.

Decoding: PyAV on the CPU by default. NVDEC (``open_fetcher``) is used when CUDA is available
(``--decode auto``) or asked for (``--decode nvdec``) and the video is a constant 25 fps stream,
because the frame fetchers address frames by index at 25 fps; any other rate goes through PyAV.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ballspot.core.errors import BallspotError
from ballspot.data.resample import iter_resampled, scan_video
from ballspot.data.soccernet import FPS

if TYPE_CHECKING:  # the ensemble imports torch: only when a command runs (a quick CLI start)
    from ballspot.app.ensemble import Member

OUTPUTS = ("results_spotting.json", "scores.csv", "raw_predictions.npz", "timeline.png",
           "overlay.mp4")


def predict_ensemble(members: Sequence[Member], frames: Iterable[tuple[int, np.ndarray]],
                     num_frames: int, source: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every member's ``(frame_indexes, raw_predictions)`` from one pass over the frames, each
    member seeing them resized to its own training size."""
    from ballspot.app.ensemble import FrameResizer
    from ballspot.predict.predictor import predict_video_many, prediction_range

    for m in members:
        p = m.predictor
        first, last = prediction_range(num_frames, p.frame_stack_size, p.frame_stack_step)
        if last < first:
            need = p.behind + p.ahead + 3
            raise BallspotError(source, f"too short: {num_frames} frames at 25 fps, the model "
                                        f"{m.path} needs at least {need}")
    resize = FrameResizer()
    return predict_video_many(
        [m.predictor for m in members], frames, num_frames, source,
        [functools.partial(resize, size=m.video_size)
         for m in members])


# ---------------------------------------------------------------------------------- the command

@dataclass(frozen=True)
class SpotResult:
    """What :func:`spot_video` found and wrote."""

    out_dir: Path
    classes: list[str]
    frame_indexes: np.ndarray  # (N,) int64 target (25 fps) frames
    raw_predictions: np.ndarray  # (N, C) float32 ensemble mean
    actions: list[tuple[int, int, float]]  # (25 fps frame, class index, confidence)
    models: list[Path]

    def events_ms(self) -> list[tuple[int, str, float]]:
        """Spotted events as (ms of the input video, class name, confidence)."""
        from ballspot.data.soccernet import frame_to_position

        return [(frame_to_position(f, FPS), self.classes[c], conf) for f, c, conf in self.actions]


def _nvdec_frames(path: Path, decode: str) -> tuple[Any, int] | None:
    """An NVDEC fetcher and its frame count when it should be used, else None."""
    import torch

    from ballspot.data.video import open_fetcher, probe_video

    if decode == "cpu" or (decode == "auto" and not torch.cuda.is_available()):
        return None
    try:
        probe_video(path, expect_fps=FPS)
    except BallspotError as exc:
        if decode == "nvdec":
            raise BallspotError(path, f"--decode nvdec needs a constant 25 fps stream "
                                      f"({exc.problem}); use --decode cpu") from None
        return None
    fetcher = open_fetcher(path, decode, expect_fps=FPS)
    return fetcher, fetcher.num_frames


def spot_video(video: str | Path, models: Sequence[str | Path] | None = None,
               out: str | Path | None = None, device: str = "auto", overlay: bool = True,
               decode: str = "auto", params_path: str | Path = "params.yaml",
               progress: bool = True, backend: str = "torch", low_latency: bool = False
               ) -> SpotResult:
    """Spot the actions of ``video`` and write the outputs (:data:`OUTPUTS`) into ``out``.

    The outputs land together when everything is written; an earlier run's output that this run
    does not write (the overlay under ``overlay=False``) is removed, other files are kept.

    ``models``: model directories or folders of ``fold_*`` model directories (default
    the ``spot`` block's); several = the mean of their raw predictions. Post-processing and the
    predictor's ``tta``/``batch_frames``/``centre_step`` come from ``params_path``'s blocks
    (without the file: :class:`~ballspot.pipeline.prediction.PredictConfig`'s defaults).
    ``low_latency``: the defaults of ``--live`` (:func:`~ballspot.app.ensemble.spot_setup`), so
    that a file gives the events a live run of it gives.
    ``backend``: ``torch``, or ``onnxruntime`` for ONNX exports (``ballspot export``).
    """
    import torch
    from tqdm import tqdm

    from ballspot.app.ensemble import load_members, spot_setup
    from ballspot.core.allocator import tune_allocator
    from ballspot.core.atomic import staged_outputs
    from ballspot.core.device import resolve_device
    from ballspot.pipeline.prediction import PredictConfig
    from ballspot.pipeline.schema import load_checked_params
    from ballspot.predict.postprocess import (
        blend_raw_predictions,
        postprocess,
        predictions_to_results,
        save_raw_predictions,
        write_results,
    )
    from ballspot.render.visualize import Event, plot_timeline, render_overlay

    if decode not in ("auto", "cpu", "nvdec"):
        raise BallspotError(None, f"--decode must be auto, cpu or nvdec, got {decode!r}")
    video = Path(video)
    source = scan_video(video)
    params = load_checked_params(params_path) if Path(params_path).is_file() else {}
    model_dirs, post = spot_setup(params, params_path, models, low_latency)
    predict = PredictConfig.from_params(params.get("predict"), params_path)
    try:
        torch_device = resolve_device(device)
    except RuntimeError as exc:
        raise BallspotError(None, f"bad --device {device!r} ({exc})") from None
    if torch_device.type == "cuda" and not torch.cuda.is_available():
        raise BallspotError(None, "--device cuda: CUDA is not available")
    out_dir = Path(out) if out is not None else Path("spot") / video.stem
    with staged_outputs(out_dir, OUTPUTS) as stage:  # all the outputs, or none
        tune_allocator()
        members, classes = load_members(model_dirs, torch_device, (source.width, source.height),
                                        tta=predict.tta, batch_frames=predict.batch_frames,
                                        backend=backend, centre_step=predict.centre_step)
        nvdec = _nvdec_frames(video, decode)
        if nvdec is not None:
            fetcher, num_frames = nvdec
            frames: Iterable[tuple[int, np.ndarray]] = fetcher.iter_frames()
        else:
            fetcher, num_frames = None, source.num_targets
            frames = iter_resampled(source)
        bar = tqdm(frames, total=num_frames, desc=f"spot {video.name}", unit="frame",
                   disable=not progress, file=sys.stderr, dynamic_ncols=True)
        try:
            pairs = predict_ensemble(members, bar, num_frames, video)
        finally:
            bar.close()
            if fetcher is not None:
                fetcher.close()
        indexes, raw = pairs[0] if len(pairs) == 1 else blend_raw_predictions(pairs)
        actions = postprocess(indexes, raw, post)

        try:
            write_results(stage / OUTPUTS[0], predictions_to_results(
                video.name, {1: actions}, classes, FPS))
            _write_scores(stage / OUTPUTS[1], indexes, raw, classes)
            save_raw_predictions(stage / OUTPUTS[2], indexes, raw)
            times = indexes.astype(np.float64) * 1000.0 / FPS
            events = [Event(f * 1000.0 / FPS, c, conf) for f, c, conf in actions]
            plot_timeline(stage / OUTPUTS[3], times, raw, classes, events,
                          title=f"{video.name}: {len(actions)} events, "
                                f"{len(model_dirs)} model{'s' if len(model_dirs) > 1 else ''}")
            if overlay:
                render_overlay(video, stage / OUTPUTS[4], times, raw, classes, events,
                               progress=progress, total_frames=len(source.times))
        except OSError as exc:
            raise BallspotError(out_dir, f"cannot write the outputs ({exc.strerror or exc})") \
                from None
    return SpotResult(out_dir, classes, indexes, raw, actions, model_dirs)


def _write_scores(path: Path, indexes: np.ndarray, raw: np.ndarray,
                  classes: Sequence[str]) -> None:
    """``time_ms,frame,<class>...`` one row per predicted 25 fps frame, atomically."""
    from ballspot.app.scores import scores_header, scores_rows
    from ballspot.core.atomic import write_text

    write_text(path, scores_header(classes) + scores_rows(indexes, raw))


def _spot(args: argparse.Namespace) -> None:
    if args.live:
        from ballspot.live.source import open_early

        opened = open_early(args.video)  # listening before torch and the models load
        from ballspot.app.live import LIVE_BATCH_FRAMES, spot_live

        stats = spot_live(args.video, args.model, args.out, args.device, args.backend,
                          batch_frames=LIVE_BATCH_FRAMES if args.batch_frames is None
                          else args.batch_frames, retry_s=args.retry_s,
                          opened=opened)
        print(f"spot --live: {stats.events} events in {stats.frames} frames, latency p50 "
              f"{stats.percentile(50):.2f} s p95 {stats.percentile(95):.2f} s (floor "
              f"{stats.floor_s:.2f} s), largest lag {max(stats.max_lag_s, 0.0):.1f} s",
              file=sys.stderr)
        return
    result = spot_video(args.video, args.model, args.out, args.device, not args.no_overlay,
                        args.decode, backend=args.backend, low_latency=args.low_latency)
    counts = {c: sum(1 for _, k, _ in result.actions if result.classes[k] == c)
              for c in result.classes}
    summary = ", ".join(f"{c} {n}" for c, n in counts.items())
    print(f"spot: {len(result.actions)} events ({summary}) with {len(result.models)} model(s) "
          f"-> {result.out_dir}", file=sys.stderr)


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``ballspot spot``."""
    cmd = commands.add_parser("spot", help="spot ball actions in any video file or live stream")
    cmd.add_argument("video", metavar="VIDEO|SOURCE",
                     help="video file (mkv, mp4, avi, mov...; any size and fps); with --live "
                          "anything FFmpeg opens as a stream (udp://, rtsp://, http(s)://...m3u8, "
                          "srt://, - for standard input, a file still being written)")
    cmd.add_argument("--live", action="store_true",
                     help="events as JSON lines the moment they are confirmed; results_spotting"
                          ".json and scores.csv in --out grow as they come")
    cmd.add_argument("--low-latency", action="store_true",
                     help="a file with the defaults of --live (spot.live_models, "
                          "spot.live_postprocess): the events a live run of it gives")
    cmd.add_argument("--backend", default="torch", choices=("torch", "onnxruntime"),
                     help="onnxruntime: run ONNX exports (ballspot export) without PyTorch "
                          "models")
    cmd.add_argument("--batch-frames", type=int, default=None,
                     help="--live: clips predicted together (default 4: the default S1 "
                          "ensemble keeps up at 25 fps on 2 CPU cores with a p95 latency of "
                          "1.39 s; 8 for a bigger model, 1 or 2 for less latency on a faster "
                          "machine)")
    cmd.add_argument("--retry-s", type=float, default=60.0,
                     help="--live: give up on a dropped network input after this long")
    cmd.add_argument("--model", action="append", default=None,
                     help="model folder or folder of fold_* models; repeat for an ensemble "
                          "(default: the first of spot.models in params.yaml that exists, "
                          "models/finetune or models/basic; --live: spot.live_models, "
                          "models/basic first)")
    cmd.add_argument("--out", default=None, help="output folder (default spot/<video stem>, "
                                                 "--live: spot/live-<source name>)")
    cmd.add_argument("--device", default="auto", help="auto, cpu or cuda")
    cmd.add_argument("--no-overlay", action="store_true", help="skip overlay.mp4")
    cmd.add_argument("--decode", default="auto", choices=("auto", "cpu", "nvdec"),
                     help="nvdec only for constant 25 fps videos; auto uses it when CUDA is "
                          "available and the video fits, else PyAV on the CPU")
    cmd.set_defaults(func=_spot)
