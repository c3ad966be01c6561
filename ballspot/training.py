"""The training loop of §8 on our data pipeline: seeded clips, kornia augmentations, focal loss,
EMA, warm-up + cosine LR, per-epoch validation AP, dvclive logs, and resume after a kill.

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
import yaml
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from ballspot.allocator import tune_allocator
from ballspot.atomic import atomic_path, write_text
from ballspot.errors import BallspotError
from ballspot.frames import pad_normalize
from ballspot.model import (
    ModelConfig,
    MultiDimStacker,
    build_model,
    freeze_conv2d_encoder,
    load_transfer_weights,
)
from ballspot.optim import ModelEma, build_optimizer, focal_loss, lr_factor, scaled_lr
from ballspot.plots import plot_training_curves
from ballspot.sampling import (
    FrameIndexShaker,
    StackIndexes,
    TrainSampler,
    ValidationSampler,
    annotation_sampling_weights,
)
from ballspot.soccernet import HalfVideo
from ballspot.targets import dense_targets, max_window_targets

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "model.yaml"
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
    action_window_size: int = 9
    action_prob: float = 0.5
    clear_pred_window_size: int = 9
    video_choice: str = "uniform"
    shaker: Mapping[str, Any] | None = dataclasses.field(
        default_factory=lambda: {"shifts": [-1, 0, 1], "weights": [0.2, 0.6, 0.2], "prob": 0.25})
    augment: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    num_workers: int = 2
    loader_timeout: float = 600.0
    decode_backend: str = "cpu"
    amp: bool = True  # CUDA only: fp16 autocast + GradScaler
    compile: bool = False  # CUDA only: torch.compile (inductor)
    torch_threads: int | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any], source: str = "params.yaml") -> TrainConfig:
        """Build from a params block; unknown keys are a one-line error naming ``source``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - names)
        if unknown:
            raise BallspotError(source, f"unknown training parameter(s) {unknown}")
        values = dict(params)
        if values.get("image_size") is not None:
            values["image_size"] = tuple(int(v) for v in values["image_size"])
        return cls(**values)

    def resolved_device(self) -> torch.device:
        return resolve_device(self.device)


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when available, else the CPU; anything else is a torch device name."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def step_seed(seed: int, step: int) -> int:
    """Torch seed of optimiser step ``step``: independent of how the run was interrupted."""
    return int(np.random.SeedSequence([int(seed), int(step)]).generate_state(1)[0])


class _EpochSampler(Sampler):
    """Yields ``(epoch, index)`` keys so persistent workers see the epoch without shared state."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.epoch = 0

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter((self.epoch, i) for i in range(self.size))

    def __len__(self) -> int:
        return self.size


class ClipDataset(Dataset):
    """Clips of decoded uint8 frames (T, H, W) and their max-window targets (C,)."""

    def __init__(self, videos: Sequence[HalfVideo], classes: Sequence[str],
                 sampler: TrainSampler | ValidationSampler, window_size: int,
                 backend: str = "cpu") -> None:
        self.paths = [v.path for v in videos]
        self.dense = [dense_targets(v.annotations, classes, v.num_frames) for v in videos]
        self.sampler = sampler
        self.window_size = window_size
        self.backend = backend
        self._fetchers: dict[int, Any] = {}

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
        fetcher = self._fetchers.get(video)
        if fetcher is None:
            from ballspot.video import open_fetcher

            fetcher = self._fetchers[video] = open_fetcher(self.paths[video], self.backend)
        frames = torch.from_numpy(fetcher.fetch_clip(indexes))
        target = max_window_targets(self.dense[video], indexes, self.window_size)
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


def save_model_dir(out_dir: Path, model: torch.nn.Module, resolved: Mapping[str, Any]) -> None:
    """A self-describing model directory: EMA weights (safetensors) + the params that built them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(out_dir / WEIGHTS_FILE, ".safetensors") as tmp:
        save_file(state, str(tmp))
    write_text(out_dir / CONFIG_FILE, yaml.safe_dump(dict(resolved), sort_keys=False))


def load_model_dir(model_dir: str | Path, device: str | torch.device = "cpu"
                   ) -> tuple[MultiDimStacker, dict[str, Any]]:
    """Rebuild a model from its directory; returns (model in eval mode, resolved params)."""
    model_dir = Path(model_dir)
    for name in (WEIGHTS_FILE, CONFIG_FILE):
        if not (model_dir / name).is_file():
            raise BallspotError(model_dir / name, "model file not found")
    resolved = yaml.safe_load((model_dir / CONFIG_FILE).read_text())
    model = build_model(ModelConfig.from_params(resolved["model"], model_dir / CONFIG_FILE))
    model.load_state_dict(load_file(str(model_dir / WEIGHTS_FILE)))
    return model.to(device).eval(), resolved


def _build_loader(dataset: ClipDataset, batch_size: int, config: TrainConfig,
                  sampler: Sampler | None) -> DataLoader:
    workers = config.num_workers
    # spawn, not fork: a forked copy of a process that already runs torch and FFmpeg threads
    # can deadlock; the workers persist, so the start-up cost is paid once per run.
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, shuffle=False, num_workers=workers,
        worker_init_fn=_worker_init if workers else None, persistent_workers=workers > 0,
        multiprocessing_context="spawn" if workers else None,
        timeout=config.loader_timeout if workers else 0, drop_last=False,
    )


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

    ``init_weights``: a state dict to start from (shape-mismatched tensors are skipped, §7.6).
    ``sampling_predictions``: per training video, an earlier model's (frame_indexes, raw
    predictions) for hard-negative sampling (§4.4 step 4), or None.
    """
    from ballspot.augment import Augmentations, augmentation_seed

    tune_allocator()
    out_dir, checkpoint_dir = Path(out_dir), Path(checkpoint_dir)
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    device = config.resolved_device()
    cuda = device.type == "cuda"
    stack = StackIndexes(model_config.num_frames, config.frame_stack_step)
    shaker = FrameIndexShaker(**config.shaker) if config.shaker else None
    predictions = sampling_predictions or [None] * len(train_videos)
    weights = [annotation_sampling_weights(v, config.action_window_size, config.action_prob,
                                           config.clear_pred_window_size, p)
               for v, p in zip(train_videos, predictions, strict=True)]
    train_sampler = TrainSampler([v.num_frames for v in train_videos], weights, stack, shaker,
                                 config.seed, config.train_epoch_size, config.video_choice)
    train_set = ClipDataset(train_videos, classes, train_sampler, config.max_targets_window_size,
                            config.decode_backend)
    epoch_keys = _EpochSampler(len(train_sampler))
    train_loader = _build_loader(train_set, config.batch_size, config, epoch_keys)
    val_set = ClipDataset(val_videos, classes, ValidationSampler.from_videos(val_videos, stack),
                          config.max_targets_window_size, config.decode_backend)
    val_loader = _build_loader(val_set, config.batch_size, config, None) if len(val_set) else None

    torch.manual_seed(config.seed)
    model = build_model(model_config)
    if init_weights is not None:
        skipped = load_transfer_weights(model, init_weights)
        if skipped:
            print(f"train: kept fresh initialisation of {skipped}", file=sys.stderr)
    if config.freeze_conv2d_encoder:
        freeze_conv2d_encoder(model)
    model.to(device)
    ema = ModelEma(model, config.ema_decay)
    lr = scaled_lr(config.base_lr, config.batch_size)
    min_factor = config.min_base_lr / config.base_lr
    optimizer = build_optimizer(model.parameters(), config.optimizer, lr, config.weight_decay)
    for group in optimizer.param_groups:
        group["lr"] = 0.0
    amp = config.amp and cuda
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    step_model = torch.compile(model) if (config.compile and cuda) else model
    augment = Augmentations.from_params(config.augment)
    pad_size = config.image_size

    steps_per_epoch = -(-config.train_epoch_size // config.batch_size)
    epochs = config.epochs_warmup + config.epochs_train
    warmup_steps, total_steps = steps_per_epoch * config.epochs_warmup, steps_per_epoch * epochs
    resolved = {
        "model": model_config.to_params(),
        "frames": {"image_size": list(pad_size) if pad_size else None,
                   "frame_stack_size": model_config.num_frames,
                   "frame_stack_step": config.frame_stack_step},
        "classes": list(classes),
        "train": {**json.loads(json.dumps(dataclasses.asdict(config))), "lr": lr,
                  "min_lr": scaled_lr(config.min_base_lr, config.batch_size),
                  "steps_per_epoch": steps_per_epoch, "warmup_steps": warmup_steps,
                  "total_steps": total_steps},
        **dict(extra or {}),
    }
    fingerprint = _fingerprint(resolved, [(str(v.path), v.num_frames, os.path.getsize(v.path),
                                           [dataclasses.astuple(a) for a in v.annotations])
                                          for v in train_videos],
                               None if init_weights is None else
                               hashlib.sha256(b"".join(t.cpu().numpy().tobytes()
                                                       for t in init_weights.values())).hexdigest())

    start_epoch, history = 0, []
    checkpoint_path = checkpoint_dir / CHECKPOINT_FILE
    if checkpoint_path.is_file():
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
        if state.get("fingerprint") == fingerprint:
            model.load_state_dict(state["model"])
            ema.module.load_state_dict(state["ema"])
            optimizer.load_state_dict(state["optimizer"])
            scaler.load_state_dict(state["scaler"])
            start_epoch, history = state["epoch"] + 1, state["history"]
            print(f"train: resumed after epoch {state['epoch'] + 1}/{epochs}", file=sys.stderr)

    live = _open_live(live_dir)
    for row in history:
        _log_row(live, row)

    metrics: dict[str, Any] = history[-1] if history else {}
    for epoch in range(start_epoch, epochs):
        model.train()
        epoch_keys.epoch = epoch
        losses = []
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress,
                   leave=False, file=sys.stderr)
        for i, (frames, targets) in enumerate(bar):
            step = epoch * steps_per_epoch + i
            for group in optimizer.param_groups:
                group["lr"] = lr * lr_factor(step, warmup_steps, total_steps, min_factor)
            torch.manual_seed(step_seed(config.seed, step))
            frames = pad_normalize(frames.to(device, non_blocking=True), pad_size)
            targets = targets.to(device)
            frames = augment(frames, seed=augmentation_seed(config.seed, step))
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                loss = focal_loss(step_model(frames), targets, config.focal_alpha,
                                  config.focal_gamma)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            ema.update(model)
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
        row = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)),
               "lr": optimizer.param_groups[0]["lr"]}
        if val_loader is not None and epoch >= config.epochs_warmup:
            row.update(evaluate_clips(ema.module, val_loader, classes, device, pad_size))
        history.append(row)
        _log_row(live, row)
        metrics = row
        print("train: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                    for k, v in row.items()), file=sys.stderr)
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(checkpoint_path, ".pt") as tmp:
            torch.save({"fingerprint": fingerprint, "epoch": epoch, "history": history,
                        "model": model.state_dict(), "ema": ema.module.state_dict(),
                        "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict()},
                       tmp)
    save_model_dir(out_dir, ema.module, resolved)
    if live is not None:
        live.end()
        plot_training_curves(history, Path(live_dir) / "curves.png",
                             f"{resolved.get('stage', '')} fold {resolved.get('fold', '')}")
    checkpoint_path.unlink(missing_ok=True)
    return metrics


@torch.no_grad()
def evaluate_clips(model: torch.nn.Module, loader: DataLoader, classes: Sequence[str],
                   device: torch.device, pad_size: tuple[int, int] | None) -> dict[str, float]:
    """Validation loss and clip-level AP per class (§8.6) with fp32 EMA weights."""
    model.eval()
    scores, targets, losses = [], [], []
    for frames, target in loader:
        logits = model(pad_normalize(frames.to(device), pad_size))
        losses.append(focal_loss(logits, target.to(device)).item() * len(frames))
        scores.append(torch.sigmoid(logits).float().cpu().numpy())
        targets.append(target.numpy())
    aps = average_precision(np.concatenate(targets), np.concatenate(scores))
    result = {"val_loss": float(np.sum(losses) / len(np.concatenate(targets))),
              "val_ap": float(np.nanmean(aps)) if np.isfinite(aps).any() else 0.0}
    result.update({f"val_ap_{c.lower().replace(' ', '_')}": float(ap)
                   for c, ap in zip(classes, aps, strict=True)})
    return result


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
