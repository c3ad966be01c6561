"""The knobs of one training run (one params block after the shared ``train`` block), checked
when built."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import torch

from ballspot.core.device import resolve_device
from ballspot.core.errors import BallspotError


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
