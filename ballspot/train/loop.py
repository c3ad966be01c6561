"""The training loop of the 2023 solution on our data pipeline: seeded clips, kornia
augmentations, focal loss, EMA, warm-up + cosine LR, per-epoch validation AP, dvclive logs, and
resume after a kill.

Original: lRomul/ball-action-spotting@9c47153 scripts/ball_action/train.py:44-166 (the script)
and src/argus_models.py:41-74 (one step).

Determinism: sample ``i`` of epoch ``e`` is drawn from a generator seeded by (seed, e, i), and
every optimiser step seeds torch from (seed, step) before augmenting and forwarding, so a run
resumed from its last epoch checkpoint ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from ballspot.core.allocator import tune_allocator
from ballspot.core.atomic import atomic_path
from ballspot.core.errors import BallspotError, first_line
from ballspot.data.soccernet import HalfVideo
from ballspot.model.folder import save_model_dir
from ballspot.model.frames import StackIndexes
from ballspot.model.stacker import (
    ModelConfig,
)
from ballspot.train import distributed
from ballspot.train.clips import ClipDataset, EpochSampler, build_loader, train_clips
from ballspot.train.config import TrainConfig
from ballspot.train.curves import plot_training_curves
from ballspot.train.optim import scaled_lr
from ballspot.train.sampling import (
    ValidationSampler,
)
from ballspot.train.step import (
    Optimisation,
    build_optimisation,
    ema_horizon_notice,
    optimiser_step,
    rank_seed,
)
from ballspot.train.validation import evaluate_clips

CHECKPOINT_FILE = "checkpoint.pt"


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclasses.dataclass
class TrainRun:
    """One training run between its steps: the loaders, the optimisation and the schedule."""

    config: TrainConfig
    classes: list[str]
    ctx: distributed.DistContext
    device: torch.device
    opt: Optimisation
    train_loader: DataLoader
    epoch_keys: EpochSampler
    val_loader: DataLoader | None
    steps_per_epoch: int
    epochs: int
    run_seed: int
    resolved: dict[str, Any]
    fingerprint: str


def setup_run(config: TrainConfig, model_config: ModelConfig, classes: Sequence[str],
              train_videos: Sequence[HalfVideo], val_videos: Sequence[HalfVideo],
              init_weights: Mapping[str, torch.Tensor] | None,
              sampling_predictions: Sequence[tuple[np.ndarray, np.ndarray] | None] | None,
              extra: Mapping[str, Any] | None) -> TrainRun:
    """Threads, DDP, loaders, model and optimiser, the resolved params and their fingerprint."""
    tune_allocator()
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    ctx, device = distributed.setup(config.ddp_backend, config.resolved_device())
    if config.train_epoch_size % ctx.world:
        raise BallspotError("params.yaml", f"train_epoch_size {config.train_epoch_size} is not a "
                                           f"multiple of the {ctx.world} DDP processes")
    stack = StackIndexes(model_config.num_frames, config.frame_stack_step)
    train_sampler, train_set = train_clips(config, stack, classes, train_videos,
                                           config.train_epoch_size, config.seed,
                                           sampling_predictions, config.frames_in_memory)
    epoch_keys = EpochSampler(len(train_sampler), ctx.rank, ctx.world)
    train_loader = build_loader(train_set, config.batch_size, config, epoch_keys)
    val_set = ClipDataset(val_videos, classes, ValidationSampler.from_videos(val_videos, stack),
                          config.max_targets_window_size, config.decode_backend,
                          config.frames_in_memory)
    val_shard = range(ctx.rank, len(val_set), ctx.world) if ctx.enabled else None
    val_loader = (build_loader(val_set, config.batch_size, config, val_shard) if len(val_set)
                  else None)

    global_batch = config.batch_size * ctx.world
    opt = build_optimisation(config, model_config, device, ctx, global_batch, init_weights)
    steps_per_epoch = -(-len(epoch_keys) // config.batch_size)  # this rank's shard
    epochs = config.epochs_warmup + config.epochs_train
    opt.warmup_steps = steps_per_epoch * config.epochs_warmup
    opt.total_steps = steps_per_epoch * epochs
    notice = ema_horizon_notice(config.ema_decay, opt.total_steps)
    if notice and ctx.is_main:
        print(f"train: notice: {notice}", file=sys.stderr)
    pad_size = config.image_size
    resolved = {
        "model": model_config.to_params(),
        "frames": {"image_size": list(pad_size) if pad_size else None,
                   # (W, H) of the training videos: other videos are resized to it before padding
                   "video_size": [train_videos[0].width, train_videos[0].height],
                   "frame_stack_size": model_config.num_frames,
                   "frame_stack_step": config.frame_stack_step},
        "classes": list(classes),
        "train": {**json.loads(json.dumps(dataclasses.asdict(config))), "lr": opt.lr,
                  "min_lr": scaled_lr(config.min_base_lr, global_batch),
                  "steps_per_epoch": steps_per_epoch, "warmup_steps": opt.warmup_steps,
                  "total_steps": opt.total_steps, "world_size": ctx.world},
        **dict(extra or {}),
    }
    fingerprint = _fingerprint(resolved, [(str(v.path), v.num_frames, os.path.getsize(v.path),
                                           [dataclasses.astuple(a) for a in v.annotations])
                                          for v in train_videos],
                               None if init_weights is None else
                               hashlib.sha256(b"".join(t.cpu().numpy().tobytes()
                                                       for t in init_weights.values())).hexdigest())
    return TrainRun(config, list(classes), ctx, device, opt, train_loader, epoch_keys,
                    val_loader, steps_per_epoch, epochs, rank_seed(config.seed, ctx.rank),
                    resolved, fingerprint)


def _resume(run: TrainRun, checkpoint_path: Path) -> tuple[int, list[dict], dict[str, Any]]:
    """(first epoch to run, history, best) from rank 0's last checkpoint of this very run."""
    start_epoch, history = 0, []
    best: dict[str, Any] = {"ap": -1.0, "epoch": None, "state": None}
    distributed.barrier(run.ctx)  # every rank resumes from rank 0's last checkpoint
    if checkpoint_path.is_file():
        try:  # tensors and plain containers only: a planted pickle cannot run code
            state = torch.load(checkpoint_path, map_location=run.device, weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same
            raise BallspotError(checkpoint_path, "not a checkpoint of tensors only (delete it to "
                                                 f"start afresh): {first_line(exc)}") from None
        if state.get("fingerprint") == run.fingerprint:
            opt = run.opt
            opt.model.load_state_dict(state["model"])
            opt.ema.module.load_state_dict(state["ema"])
            opt.optimizer.load_state_dict(state["optimizer"])
            opt.scaler.load_state_dict(state["scaler"])
            start_epoch, history = state["epoch"] + 1, state["history"]
            best = state.get("best", best)
            if run.ctx.is_main:
                print(f"train: resumed after epoch {state['epoch'] + 1}/{run.epochs}",
                      file=sys.stderr)
    return start_epoch, history, best


def run_epoch(run: TrainRun, epoch: int, progress: bool) -> dict[str, Any]:
    """Train one epoch, share rank 0's state, validate the EMA; returns the epoch's log row."""
    opt, ctx, config = run.opt, run.ctx, run.config
    opt.model.train()
    run.epoch_keys.epoch = epoch
    losses = []
    bar = tqdm(run.train_loader, desc=f"epoch {epoch + 1}/{run.epochs}",
               disable=not (progress and ctx.is_main), leave=False, file=sys.stderr)
    for i, (frames, targets) in enumerate(bar):
        step = epoch * run.steps_per_epoch + i
        opt.set_lr(step)
        loss = optimiser_step(opt.step_model, opt.model, opt.ema, opt.optimizer, opt.scaler,
                              opt.augment, frames, targets, config, run.device,
                              config.image_size, run.run_seed, step)
        losses.append(loss.item())
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
    # DDP keeps the parameters equal; BatchNorm statistics (live and EMA) drift per rank,
    # so every rank takes rank 0's: all then hold what rank 0 checkpoints and saves.
    distributed.broadcast_state(opt.model, ctx)
    distributed.broadcast_state(opt.ema.module, ctx)
    all_losses = [x for part in distributed.all_gather_objects(losses, ctx) for x in part]
    row = {"epoch": epoch + 1, "train_loss": float(np.mean(all_losses)),
           "lr": opt.optimizer.param_groups[0]["lr"]}
    if run.val_loader is not None and epoch >= config.epochs_warmup:
        row.update(evaluate_clips(opt.ema.module, run.val_loader, run.classes, run.device,
                                  config.image_size, ctx))
    return row


def _save_checkpoint(run: TrainRun, path: Path, epoch: int, history: list[dict],
                     best: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    opt = run.opt
    with atomic_path(path, ".pt") as tmp:
        torch.save({"fingerprint": run.fingerprint, "epoch": epoch, "history": history,
                    "model": opt.model.state_dict(), "ema": opt.ema.module.state_dict(),
                    "optimizer": opt.optimizer.state_dict(), "scaler": opt.scaler.state_dict(),
                    "best": best},
                   tmp)


def _finish(run: TrainRun, out_dir: Path, history: list[dict], best: dict[str, Any],
            metrics: dict[str, Any], live: Any, live_dir: str | Path | None,
            checkpoint_path: Path) -> dict[str, Any]:
    """Keep the best epoch if asked, write the model folder and the curves, drop the checkpoint."""
    ema, resolved = run.opt.ema, run.resolved
    if run.config.select_best and best["state"] is not None:
        ema.module.load_state_dict(best["state"])
        resolved["best_epoch"] = best["epoch"]
        metrics = next(row for row in history if row["epoch"] == best["epoch"])
    if run.ctx.is_main:
        save_model_dir(out_dir, ema.module, resolved)
    if live is not None:
        live.end()
        plot_training_curves(history, Path(live_dir) / "curves.png",
                             f"{resolved.get('stage', '')} fold {resolved.get('fold', '')}")
    if run.ctx.is_main:
        checkpoint_path.unlink(missing_ok=True)
    distributed.teardown(run.ctx)  # waits for rank 0's writes
    return metrics


def train_model(
    config: TrainConfig,
    model_config: ModelConfig,
    classes: Sequence[str],
    train_videos: Sequence[HalfVideo],
    val_videos: Sequence[HalfVideo],
    out_dir: str | Path,
    checkpoint_dir: str | Path,
    live_dir: str | Path | None = None,
    init_weights: Mapping[str, torch.Tensor] | None = None,
    sampling_predictions: Sequence[tuple[np.ndarray, np.ndarray] | None] | None = None,
    extra: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train one model and write its directory; returns the final validation metrics.

    ``init_weights``: a state dict to start from (shape-mismatched tensors are skipped, as in
    the original's src/utils.py:67-83).
    ``sampling_predictions``: per training video, an earlier model's (frame_indexes, raw
    predictions) for hard-negative sampling (original: src/ball_action/annotations.py:139-159),
    or None.

    Under ``torchrun`` (or in an initialised process group) this is one DDP rank: it trains on
    its shard of every epoch with ``batch_size`` clips a step (global batch ``batch_size`` x
    world, the LR scaled to it), and rank 0 alone writes checkpoints, logs and the model.
    """
    run = setup_run(config, model_config, classes, train_videos, val_videos, init_weights,
                    sampling_predictions, extra)
    checkpoint_path = Path(checkpoint_dir) / CHECKPOINT_FILE
    start_epoch, history, best = _resume(run, checkpoint_path)
    live = _open_live(live_dir) if run.ctx.is_main else None
    for row in history:
        _log_row(live, row)
    metrics: dict[str, Any] = history[-1] if history else {}
    for epoch in range(start_epoch, run.epochs):
        row = run_epoch(run, epoch, progress)
        if config.select_best and row.get("val_ap", -1.0) > best["ap"]:
            best = {"ap": row["val_ap"], "epoch": epoch + 1,
                    "state": {k: v.detach().cpu().clone()
                              for k, v in run.opt.ema.module.state_dict().items()}}
        history.append(row)
        _log_row(live, row)
        metrics = row
        if not run.ctx.is_main:
            continue
        print("train: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                    for k, v in row.items()), file=sys.stderr)
        _save_checkpoint(run, checkpoint_path, epoch, history, best)
    return _finish(run, Path(out_dir), history, best, metrics, live, live_dir, checkpoint_path)


def _open_live(live_dir: str | Path | None) -> Any:
    if live_dir is None:
        return None
    from dvclive import Live

    return Live(str(live_dir), save_dvc_exp=False, dvcyaml=None, report=None)


def _log_row(live: Any, row: Mapping[str, Any]) -> None:
    if live is None:
        return
    for key, value in row.items():
        if key != "epoch" and isinstance(value, float) and np.isfinite(value):
            live.log_metric(key, value)
    live.next_step()
