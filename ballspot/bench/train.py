"""Benchmark: training samples/s of one training stage's settings, with the real loop ingredients.

Per step, as in :func:`ballspot.train.loop.train_model`: the stage's loader (decode workers,
``ClipDataset`` on the stage's sampler), ``pad_normalize``, the kornia augmentations, forward and
focal loss under AMP (CUDA), backward, optimiser step, EMA update. The first step (worker start,
cuDNN autotune, ``torch.compile``) is a warm-up and not timed. The projection of one epoch counts
training steps only (no validation pass).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ballspot.core.errors import BallspotError
from ballspot.data.soccernet import Annotation, DatasetSpec, HalfVideo, load_game

# README of the 2023 solution (lRomul/ball-action-spotting@9c47153 README.md:133-134): one
# basic-stage epoch of 6000 training + ~2600 validation clips of 15 x 1280 x 736 on one
# RTX 3090 Ti, NVDEC loader, AMP, torch.compile.
PAPER_EPOCH_S = 7 * 60 + 10
PAPER_EPOCH_SAMPLES = 6000
# SoccerNet's resolutions by name: (W, H)
RESOLUTIONS = {"224p": (398, 224), "720p": (1280, 720)}


def _dataset_block(stage: str) -> str:
    return "action_dataset" if stage == "train_action" else "dataset"


def _stage_classes(params: Mapping[str, Any], stage: str) -> list[str]:
    from ballspot.pipeline.training import action_classes

    spec = DatasetSpec.from_params(params[_dataset_block(stage)])
    return action_classes(spec.classes) if stage == "train_action" else list(spec.classes)


def _dataset_video(params: Mapping[str, Any], stage: str) -> HalfVideo | None:
    """The first half of the stage's first training game, when the dataset is on disk."""
    block = params[_dataset_block(stage)]
    spec = DatasetSpec.from_params(block)
    games = list(block.get("train_games", [])) if stage == "train_action" else spec.labelled_games
    if not games or spec.find_video(games[0], spec.halves[0]) is None:
        return None
    return load_game(spec, games[0], labelled=True, any_class=True)[0]


def _video_size(params: Mapping[str, Any], stage: str) -> tuple[int, int]:
    """(W, H) a generated video gets: the synthetic size, or the dataset's SoccerNet resolution."""
    if params.get("data", {}).get("source") == "synthetic":
        synthetic = params["data"].get("synthetic", {})
        return int(synthetic.get("width", 256)), int(synthetic.get("height", 144))
    resolution = str(params[_dataset_block(stage)].get("resolution", "224p"))
    if resolution not in RESOLUTIONS:
        raise BallspotError("params.yaml", f"unknown resolution {resolution!r}; pass --size WxH")
    return RESOLUTIONS[resolution]


def _generated_video(path: Path, size: tuple[int, int], seconds: float, classes: list[str],
                     seed: int) -> HalfVideo:
    """A synthetic broadcast-like H.264 half; its events relabelled to cycle over ``classes``."""
    from ballspot.data.synthetic import render_video
    from ballspot.data.video import probe_video

    fps = 25
    events = render_video(path, seconds, fps, size[0], size[1], seed=seed)
    info = probe_video(path)
    frames = sorted({min(round(t * fps), info.num_frames - 1) for t, _ in events}
                    or {info.num_frames // 2})  # the sampler needs at least one action
    annotations = [Annotation(1, f, classes[i % len(classes)]) for i, f in enumerate(frames)]
    return HalfVideo("bench", 1, path, info.num_frames, info.fps, info.width, info.height,
                     annotations)


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` -> (1280, 720)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise BallspotError(None, f"--size must look like 1280x720, got {text!r}") from None
    if width < 32 or height < 32:
        raise BallspotError(None, f"--size {text} is too small (32x32 at least)")
    return width, height


def bench_train(stage: str = "train_basic", params_path: str | Path = "params.yaml",
                steps: int = 10, device: str | None = None, size: tuple[int, int] | None = None,
                batch_size: int | None = None, num_workers: int | None = None,
                video: str | Path | None = None, seconds: float = 8.0,
                compare_paper: bool = False, seed: int = 0) -> dict[str, float]:
    """Print and return samples/s, s/step and the projected epoch time of ``stage``'s settings.

    Overrides (None = the stage's value): ``device``, ``batch_size``, ``num_workers``. The video:
    ``video`` if given, else (without ``size``) the stage's first training half when the dataset
    exists, else a ``seconds`` long synthetic video of ``size`` (W, H), default the dataset's size.
    """
    from ballspot.pipeline.schema import load_checked_params, stage_values
    from ballspot.train.config import TrainConfig

    if steps < 1:
        raise BallspotError(None, f"--steps must be at least 1, got {steps}")
    params = load_checked_params(params_path)
    overrides = {k: v for k, v in (("device", device), ("batch_size", batch_size),
                                   ("num_workers", num_workers)) if v is not None}
    config = TrainConfig.from_params({**stage_values(params, stage, params_path), **overrides},
                                     str(params_path))
    classes = _stage_classes(params, stage)
    with tempfile.TemporaryDirectory(prefix="ballspot-bench-train-") as tmp:
        if video is not None:
            from ballspot.data.video import probe_video

            info = probe_video(video)
            half = HalfVideo("bench", 1, info.path, info.num_frames, info.fps, info.width,
                             info.height, [Annotation(1, info.num_frames // 2, classes[0])])
            source = str(video)
        else:
            half = None if size is not None else _dataset_video(params, stage)
            source = f"{half.game} half {half.half}" if half is not None else ""
            if half is None:
                size = size or _video_size(params, stage)
                half = _generated_video(Path(tmp) / "bench.mkv", size, seconds, classes, seed)
                source = f"generated {seconds:g} s synthetic H.264"
        result = _run(params, stage, config, classes, half, steps, seed)
    _report(stage, config, half, source, result, compare_paper)
    return result


def _run(params: Mapping[str, Any], stage: str, config: Any, classes: list[str],
         video: HalfVideo, steps: int, seed: int) -> dict[str, float]:
    import torch

    from ballspot.core.allocator import tune_allocator
    from ballspot.model.frames import StackIndexes, padded_size
    from ballspot.pipeline.schema import stage_values
    from ballspot.pipeline.training import model_config
    from ballspot.train.clips import EpochSampler, build_loader, train_clips
    from ballspot.train.distributed import DistContext
    from ballspot.train.step import build_optimisation, optimiser_step

    tune_allocator()  # as train_model does: glibc's defaults make CPU steps several times slower
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    device = config.resolved_device()
    cuda = device.type == "cuda"
    # the pretrained file only sets initial values: it does not change the speed
    model_cfg = dataclasses.replace(model_config(params, stage_values(params, stage),
                                                 len(classes)),
                                    pretrained=None)
    stack = StackIndexes(model_cfg.num_frames, config.frame_stack_step)
    # the same sampler and clips as the stage's training (hard negatives change which frames
    # are drawn, not the cost of a step)
    sampler, dataset = train_clips(config, stack, classes, [video],
                                   (steps + 1) * config.batch_size, seed,
                                   in_memory=config.frames_in_memory)
    loader = build_loader(dataset, config.batch_size, config, EpochSampler(len(sampler)))
    pad_size = config.image_size
    if pad_size is not None and (pad_size[0] < video.width or pad_size[1] < video.height):
        pad_size = None  # a --size larger than the stage's pad size: next multiples of 32
    padded_h, padded_w = pad_size[::-1] if pad_size else padded_size(video.height, video.width)
    config = dataclasses.replace(config, image_size=pad_size)

    opt = build_optimisation(config, model_cfg, device, DistContext(), config.batch_size)
    opt.warmup_steps, opt.total_steps = 0, steps + 1
    opt.model.train()
    amp = opt.scaler.is_enabled()

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    wait = compute = 0.0
    start = time.perf_counter()
    batches = iter(loader)
    for step in range(steps + 1):
        if step == 1:  # the warm-up step is over: time from here
            wait = compute = 0.0
            start = time.perf_counter()
        fetched = time.perf_counter()
        frames, targets = next(batches)
        began = time.perf_counter()
        opt.set_lr(step)
        optimiser_step(opt.step_model, opt.model, opt.ema, opt.optimizer, opt.scaler,
                       opt.augment, frames, targets, config, device, pad_size, seed,
                       step).item()
        sync()
        wait += began - fetched
        compute += time.perf_counter() - began
    elapsed = time.perf_counter() - start
    del batches, loader  # stops the decode workers
    samples = steps * config.batch_size
    s_per_step = elapsed / steps
    epoch_steps = math.ceil(config.train_epoch_size / config.batch_size)
    return {"samples_per_s": samples / elapsed, "s_per_step": s_per_step,
            "loader_wait_s_per_step": wait / steps, "compute_s_per_step": compute / steps,
            "epoch_s": epoch_steps * s_per_step, "train_epoch_size": config.train_epoch_size,
            "batch_size": config.batch_size, "steps": steps, "device": str(device),
            "pad_width": padded_w, "pad_height": padded_h, "num_frames": model_cfg.num_frames,
            "amp": amp, "compiled": opt.step_model is not opt.model}


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min {secs:02d} s" if hours else f"{minutes} min {secs:02d} s"


def _report(stage: str, config: Any, video: HalfVideo, source: str, r: Mapping[str, Any],
            compare_paper: bool) -> None:
    print(f"bench train: {stage} on {r['device']}, video {video.width}x{video.height} "
          f"({source}), padded {r['pad_width']}x{r['pad_height']}, {r['num_frames']} frames "
          f"step {config.frame_stack_step}, batch {r['batch_size']}, "
          f"decode workers {config.num_workers} ({config.decode_backend}), "
          f"amp {'on' if r['amp'] else 'off'}, compile {'on' if r['compiled'] else 'off'}")
    print(f"  {r['samples_per_s']:.2f} samples/s, {r['s_per_step']:.3f} s/step over "
          f"{r['steps']} timed step(s) after a warm-up step "
          f"(waiting for the loader {r['loader_wait_s_per_step']:.3f} s/step, "
          f"compute {r['compute_s_per_step']:.3f} s/step)")
    print(f"  one epoch of {r['train_epoch_size']} samples: {_duration(r['epoch_s'])} "
          f"(training steps only)")
    if compare_paper:
        ours = r["epoch_s"] * PAPER_EPOCH_SAMPLES / r["train_epoch_size"]
        print(f"  paper: {_duration(PAPER_EPOCH_S)} per {PAPER_EPOCH_SAMPLES}-sample epoch incl. "
              f"~2600 validation clips (15x1280x736, RTX 3090 Ti, NVDEC, AMP, compile), i.e. "
              f"{PAPER_EPOCH_SAMPLES / PAPER_EPOCH_S:.2f} training samples/s at least; "
              f"this run takes {ours / PAPER_EPOCH_S:.2f}x its time per {PAPER_EPOCH_SAMPLES} "
              "training samples")


def _bench_train(args: argparse.Namespace) -> None:
    bench_train(args.stage, args.params, steps=args.steps,
                device=None if args.device == "stage" else args.device,
                size=parse_size(args.size) if args.size else None, batch_size=args.batch_size,
                num_workers=args.workers, video=args.video, seconds=args.seconds,
                compare_paper=args.compare_paper, seed=args.seed)


def register(benches: argparse._SubParsersAction) -> None:
    """Add ``train`` to the ``ballspot bench`` sub-commands (``benches`` = its subparsers)."""
    train = benches.add_parser(
        "train", help="training samples/s of one stage's settings and the projected epoch time")
    train.add_argument("--stage", default="train_basic", help="params block of the stage")
    train.add_argument("--params", default="params.yaml", help="params file")
    train.add_argument("--steps", type=int, default=10, help="timed optimiser steps")
    train.add_argument("--device", default="auto",
                       help="auto (CUDA if available), cpu, cuda[:N], or 'stage' for its own")
    train.add_argument("--size", default=None,
                       help="WxH of a generated video (default: the dataset's first training "
                            "half, or a generated one at the dataset's resolution)")
    train.add_argument("--batch-size", type=int, default=None, help="default: the stage's")
    train.add_argument("--workers", type=int, default=None,
                       help="decode workers (default: the stage's num_workers)")
    train.add_argument("--video", default=None, help="a video file to train on instead")
    train.add_argument("--seconds", type=float, default=8.0, help="length of a generated video")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--compare-paper", action="store_true",
                       help="also print the 2023 solution's 7 min 10 s per 6000-sample epoch")
    train.set_defaults(func=_bench_train)
