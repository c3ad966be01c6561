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
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from ballspot.core.allocator import tune_allocator
from ballspot.core.atomic import atomic_path
from ballspot.core.device import resolve_device
from ballspot.core.errors import BallspotError
from ballspot.data.soccernet import HalfVideo
from ballspot.model.folder import save_model_dir
from ballspot.model.frames import StackIndexes, pad_normalize
from ballspot.model.stacker import (
    ModelConfig,
    build_model,
    centre_classifier,
    freeze_conv2d_encoder,
    load_transfer_weights,
)
from ballspot.train import distributed
from ballspot.train.curves import plot_training_curves
from ballspot.train.optim import ModelEma, build_optimizer, focal_loss, lr_factor, scaled_lr
from ballspot.train.sampling import (
    FrameIndexShaker,
    TrainSampler,
    ValidationSampler,
    annotation_sampling_weights,
)
from ballspot.train.targets import dense_targets, max_window_targets

CHECKPOINT_FILE = "checkpoint.pt"


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Knobs of one training run (one params block); defaults are the paper's basic stage."""

    seed: int = 0
    device: str = "auto"
    frame_stack_size: int = 15
    image_size: tuple[int, int] | None = None  # (W, H) pad size; None: next multiples of 32
    frame_stack_step: int = 2
    max_targets_window_size: int = 15
    batch_size: int = 4
    base_lr: float = 3e-4
    min_base_lr: float = 3e-6
    optimizer: str = "adamw"
    weight_decay: float = 0.01
    epochs_warmup: int = 6
    epochs_train: int = 30
    train_epoch_size: int = 6000
    ema_decay: float = 0.999
    focal_alpha: float = -1.0
    focal_gamma: float = 1.2
    freeze_conv2d_encoder: bool = False
    # "fresh": a classifier whose shape differs from init_weights' starts anew (the original);
    # "centre": a shorter model's classifier goes on the central stacks (model.centre_classifier)
    classifier_init: str = "fresh"
    action_window_size: int = 9
    action_prob: float = 0.5
    clear_pred_window_size: int = 9
    # per-class sampling weights (original: configs/action/action_sampling_weights_002.py:21-37):
    # a mapping, or "effective_number" (computed from the training counts with
    # ``action_weights_beta``, see sampling.effective_number_weights)
    action_weights: Mapping[str, float] | str | None = None
    action_weights_beta: float = 0.999
    # keep the epoch of the best validation AP (action stage; original:
    # scripts/action/train.py:137-146, src/utils.py:31-52)
    select_best: bool = False
    video_choice: str = "uniform"
    shaker: Mapping[str, Any] | None = dataclasses.field(
        default_factory=lambda: {"shifts": [-1, 0, 1], "weights": [0.2, 0.6, 0.2], "prob": 0.25})
    augment: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    num_workers: int = 2
    loader_timeout: float = 600.0
    decode_backend: str = "cpu"
    # decode every training and validation video once into memory (uint8 luma), so clips are
    # array slices: no seek per clip and no loader processes (num_workers is then unused)
    frames_in_memory: bool = False
    amp: bool = True  # CUDA only: fp16 autocast + GradScaler
    compile: bool = False  # CUDA only: torch.compile (inductor)
    torch_threads: int | None = None
    ddp_processes: int = 1  # >1: DDP, one process per GPU via torchrun (stages re-launch)
    ddp_backend: str = "auto"  # auto: nccl on CUDA, gloo on the CPU

    @classmethod
    def from_params(cls, params: Mapping[str, Any], source: str = "params.yaml") -> TrainConfig:
        """Build from a params block; unknown keys are a one-line error naming ``source``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - names)
        if unknown:
            raise BallspotError(source, f"unknown training parameter(s) {unknown}")
        values = dict(params)
        processes = values.get("ddp_processes", 1)
        if not isinstance(processes, int) or processes < 1:
            raise BallspotError(source, f"ddp_processes must be an integer >= 1, got {processes!r}")
        if values.get("train_epoch_size", cls.train_epoch_size) % processes:
            # every rank must run the same number of steps, or DDP's all-reduce waits forever
            raise BallspotError(source, f"train_epoch_size must be a multiple of ddp_processes "
                                        f"({processes})")
        if values.get("classifier_init", "fresh") not in ("fresh", "centre"):
            raise BallspotError(source, f"classifier_init must be 'fresh' or 'centre', got "
                                        f"{values['classifier_init']!r}")
        if values.get("image_size") is not None:
            values["image_size"] = tuple(int(v) for v in values["image_size"])
        return cls(**values)

    def resolved_device(self) -> torch.device:
        return resolve_device(self.device)


def step_seed(seed: int, step: int) -> int:
    """Torch seed of optimiser step ``step``: independent of how the run was interrupted."""
    return int(np.random.SeedSequence([int(seed), int(step)]).generate_state(1)[0])


def rank_seed(seed: int, rank: int) -> int:
    """Seed of DDP rank ``rank``'s per-step draws: rank 0 keeps ``seed`` (so a single-process run
    is unchanged), other ranks get independent streams (they must not augment alike)."""
    if rank == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(rank)]).generate_state(1)[0])


class EpochSampler(Sampler):
    """Yields ``(epoch, index)`` keys so persistent workers see the epoch without shared state.

    Under DDP rank ``rank`` of ``world`` takes the indexes ``i % world == rank``: the ranks' shards
    are disjoint, their union is the single-process epoch, and each sample keeps its seed.
    """

    def __init__(self, size: int, rank: int = 0, world: int = 1) -> None:
        self.size = size
        self.rank, self.world = rank, world
        self.epoch = 0

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter((self.epoch, i) for i in range(self.rank, self.size, self.world))

    def __len__(self) -> int:
        return len(range(self.rank, self.size, self.world))


class ClipDataset(Dataset):
    """Clips of decoded uint8 frames (T, H, W) and their max-window targets (C,)."""

    def __init__(self, videos: Sequence[HalfVideo], classes: Sequence[str],
                 sampler: TrainSampler | ValidationSampler, window_size: int,
                 backend: str = "cpu", in_memory: bool = False) -> None:
        self.paths = [v.path for v in videos]
        self.dense = [dense_targets(v.annotations, classes, v.num_frames) for v in videos]
        self.sampler = sampler
        self.window_size = window_size
        self.backend = backend
        self._fetchers: dict[int, Any] = {}
        self._decoded: dict[int, np.ndarray] = {}
        if in_memory:
            from ballspot.data.video import open_fetcher

            for video, path in enumerate(self.paths):
                with open_fetcher(path, backend) as fetcher:
                    self._decoded[video] = np.stack([f for _, f in fetcher.iter_frames()])

    def __len__(self) -> int:
        return len(self.sampler)

    def __getstate__(self) -> dict[str, Any]:
        # Open decoders are per process: a worker opens its own (FFmpeg threads do not survive
        # being copied into another process).
        return {**self.__dict__, "_fetchers": {}}

    def __getitem__(self, key: tuple[int, int] | int) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(self.sampler, TrainSampler):
            video, indexes = self.sampler.sample(*key)
        else:
            video, indexes = self.sampler.sample(int(key))
        target = max_window_targets(self.dense[video], indexes, self.window_size)
        decoded = self._decoded.get(video)
        if decoded is not None:  # the same frames a fetcher decodes, without the seek
            return torch.from_numpy(decoded[indexes]), torch.from_numpy(target)
        fetcher = self._fetchers.get(video)
        if fetcher is None:
            from ballspot.data.video import open_fetcher

            fetcher = self._fetchers[video] = open_fetcher(self.paths[video], self.backend)
        frames = torch.from_numpy(fetcher.fetch_clip(indexes))
        return frames, torch.from_numpy(target)


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # decoding workers must not compete with the training threads


def average_precision(targets: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Per-class (non-interpolated) average precision, (N, C) -> (C,); NaN for no positives."""
    aps = []
    for c in range(targets.shape[1]):
        order = np.argsort(-scores[:, c], kind="stable")
        hits = targets[order, c] > 0.5
        if not hits.any():
            aps.append(float("nan"))
            continue
        precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
        aps.append(float(precision[hits].mean()))
    return np.asarray(aps)


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def build_loader(dataset: ClipDataset, batch_size: int, config: TrainConfig,
                  sampler: Sampler | Sequence[int] | None) -> DataLoader:
    workers = 0 if config.frames_in_memory else config.num_workers
    # spawn, not fork: a forked copy of a process that already runs torch and FFmpeg threads
    # can deadlock; the workers persist, so the start-up cost is paid once per run.
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, shuffle=False, num_workers=workers,
        worker_init_fn=_worker_init if workers else None, persistent_workers=workers > 0,
        multiprocessing_context="spawn" if workers else None,
        timeout=config.loader_timeout if workers else 0, drop_last=False,
    )


def _ddp_wrap(model: torch.nn.Module, context: distributed.DistContext, device: torch.device
              ) -> torch.nn.Module:
    """The module the steps run: ``model`` itself, or under DDP a wrapper that averages the
    gradients over ranks (it shares ``model``'s parameters; frozen ones are left out)."""
    if not context.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                   else None)


def optimiser_step(step_model: torch.nn.Module, model: torch.nn.Module, ema: ModelEma,
                   optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                   augment: Any, frames: torch.Tensor, targets: torch.Tensor,
                   config: TrainConfig, device: torch.device, pad_size: tuple[int, int] | None,
                   seed: int, step: int) -> torch.Tensor:
    """One optimiser step (original: src/argus_models.py:41-74) on a batch of uint8 clips
    (B, T, H, W) and targets (B, C).

    Seeds torch from (seed, step), pads and normalises, augments with its own (seed, step) draw,
    runs the focal loss under fp16 autocast when the scaler is enabled (AMP on CUDA), steps the
    optimiser and updates the EMA of ``model``; ``step_model`` is what runs the forward (the
    model itself, compiled, or DDP-wrapped). Returns the loss (a scalar tensor).
    """
    from ballspot.train.augment import augmentation_seed

    torch.manual_seed(step_seed(seed, step))
    frames = pad_normalize(frames.to(device, non_blocking=True), pad_size)
    targets = targets.to(device)
    frames = augment(frames, seed=augmentation_seed(seed, step))
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device.type, dtype=torch.float16, enabled=scaler.is_enabled()):
        loss = focal_loss(step_model(frames), targets, config.focal_alpha, config.focal_gamma)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    ema.update(model)
    return loss


EMA_INITIAL_SHARE_LIMIT = 0.1  # above this share of the initial weights, the EMA says so


def ema_horizon_notice(decay: float, total_steps: int) -> str | None:
    """A one-line notice when the EMA of ``total_steps`` updates still holds more than
    :data:`EMA_INITIAL_SHARE_LIMIT` of the initial weights (``decay ** total_steps``), else None.

    The saved model is the EMA: with too few steps for its decay it is mostly the initialisation
    (a fresh classifier after a transfer, random weights from scratch).
    """
    share = decay ** max(total_steps, 0)
    if share <= EMA_INITIAL_SHARE_LIMIT:
        return None
    return (f"ema_decay {decay} over {total_steps} steps leaves {share:.0%} of the initial "
            f"weights in the saved EMA model; lower ema_decay or train longer")


@dataclasses.dataclass
class Optimisation:
    """A model with what trains it: its EMA, optimiser, AMP scaler, the module that runs the
    forward (the model, DDP-wrapped or compiled), the augmentations and the LR schedule."""

    model: torch.nn.Module
    ema: ModelEma
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    step_model: torch.nn.Module
    augment: Any
    lr: float
    min_factor: float
    warmup_steps: int = 0
    total_steps: int = 1

    def set_lr(self, step: int) -> None:
        """Warm-up + cosine (original: src/ball_action/train.py), per optimiser step."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr * lr_factor(step, self.warmup_steps, self.total_steps,
                                              self.min_factor)


def build_optimisation(config: TrainConfig, model_config: ModelConfig, device: torch.device,
                       ctx: distributed.DistContext, global_batch: int,
                       init_weights: Mapping[str, torch.Tensor] | None = None) -> Optimisation:
    """Build the model from ``config.seed`` (transferring ``init_weights``, freezing the 2D
    encoder if asked) and everything that trains it; the LR is 0 until :meth:`set_lr`."""
    from ballspot.train.augment import Augmentations

    torch.manual_seed(config.seed)
    model = build_model(model_config)
    if init_weights is not None:
        if config.classifier_init == "centre":
            init_weights = centre_classifier(model, init_weights)
        skipped = load_transfer_weights(model, init_weights)
        if skipped and ctx.is_main:
            print(f"train: kept fresh initialisation of {skipped}", file=sys.stderr)
    if config.freeze_conv2d_encoder:
        freeze_conv2d_encoder(model)
    model.to(device)
    ema = ModelEma(model, config.ema_decay)
    lr = scaled_lr(config.base_lr, global_batch)
    optimizer = build_optimizer(model.parameters(), config.optimizer, lr, config.weight_decay)
    for group in optimizer.param_groups:
        group["lr"] = 0.0
    cuda = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=config.amp and cuda)
    step_model = _ddp_wrap(model, ctx, device)
    step_model = torch.compile(step_model) if (config.compile and cuda) else step_model
    return Optimisation(model, ema, optimizer, scaler, step_model,
                        Augmentations.from_params(config.augment), lr,
                        config.min_base_lr / config.base_lr)


def train_clips(config: TrainConfig, stack: StackIndexes, classes: Sequence[str],
                videos: Sequence[HalfVideo], epoch_size: int, seed: int,
                predictions: Sequence[tuple[np.ndarray, np.ndarray] | None] | None = None,
                in_memory: bool = False) -> tuple[TrainSampler, ClipDataset]:
    """The seeded training clip sampler (action windows, hard negatives) and its dataset."""
    shaker = FrameIndexShaker(**config.shaker) if config.shaker else None
    predictions = predictions or [None] * len(videos)
    weights = [annotation_sampling_weights(v, config.action_window_size, config.action_prob,
                                           config.clear_pred_window_size, p,
                                           config.action_weights)
               for v, p in zip(videos, predictions, strict=True)]
    sampler = TrainSampler([v.num_frames for v in videos], weights, stack, shaker, seed,
                           epoch_size, config.video_choice)
    return sampler, ClipDataset(videos, classes, sampler, config.max_targets_window_size,
                                config.decode_backend, in_memory)


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
        state = torch.load(checkpoint_path, map_location=run.device, weights_only=False)
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


@torch.no_grad()
def evaluate_clips(model: torch.nn.Module, loader: DataLoader, classes: Sequence[str],
                   device: torch.device, pad_size: tuple[int, int] | None,
                   context: distributed.DistContext | None = None) -> dict[str, float]:
    """Validation loss and clip-level AP per class with fp32 EMA weights (original:
    src/argus_models.py:76-90, src/metrics.py:40-48).

    Under DDP (``context``) the loader holds this rank's clips ``i % world == rank``; the ranks
    pool their scores in clip order, so every rank returns the metrics of the whole set.
    """
    model.eval()
    scores, targets, losses = [], [], []
    for frames, target in loader:
        logits = model(pad_normalize(frames.to(device), pad_size))
        losses.append(focal_loss(logits, target.to(device)).item() * len(frames))
        scores.append(torch.sigmoid(logits).float().cpu().numpy())
        targets.append(target.numpy())
    if context is not None and context.enabled:
        parts = distributed.all_gather_objects((scores, targets, float(np.sum(losses))), context)
        scores = [_pool_shards([p[0] for p in parts], len(classes))]
        targets = [_pool_shards([p[1] for p in parts], len(classes))]
        losses = [sum(p[2] for p in parts)]
    aps = average_precision(np.concatenate(targets), np.concatenate(scores))
    result = {"val_loss": float(np.sum(losses) / len(np.concatenate(targets))),
              "val_ap": float(np.nanmean(aps)) if np.isfinite(aps).any() else 0.0}
    result.update({f"val_ap_{c.lower().replace(' ', '_')}": float(ap)
                   for c, ap in zip(classes, aps, strict=True)})
    return result


def _pool_shards(shards: Sequence[Sequence[np.ndarray]], width: int) -> np.ndarray:
    """Rows of rank shards (rank ``r`` holds rows ``r, r + world, ...``) back in row order."""
    arrays = [np.concatenate(s) if len(s) else np.zeros((0, width), np.float32) for s in shards]
    pooled = np.empty((sum(len(a) for a in arrays), width), np.result_type(*arrays))
    for rank, array in enumerate(arrays):
        pooled[rank::len(arrays)] = array
    return pooled


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
