"""One optimiser step and what it needs: the model with its EMA, optimiser, AMP scaler and
LR schedule (:class:`Optimisation`), and the per-step seeds that make a resumed run equal an
uninterrupted one."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ballspot.model.frames import pad_normalize
from ballspot.model.stacker import (
    ModelConfig,
    build_model,
    centre_classifier,
    freeze_conv2d_encoder,
    load_transfer_weights,
)
from ballspot.train import distributed
from ballspot.train.config import TrainConfig
from ballspot.train.optim import ModelEma, build_optimizer, focal_loss, lr_factor, scaled_lr


def step_seed(seed: int, step: int) -> int:
    """Torch seed of optimiser step ``step``: independent of how the run was interrupted."""
    return int(np.random.SeedSequence([int(seed), int(step)]).generate_state(1)[0])


def rank_seed(seed: int, rank: int) -> int:
    """Seed of DDP rank ``rank``'s per-step draws: rank 0 keeps ``seed`` (so a single-process run
    is unchanged), other ranks get independent streams (they must not augment alike)."""
    if rank == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(rank)]).generate_state(1)[0])


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
