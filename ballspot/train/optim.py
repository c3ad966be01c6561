"""Training parts of the 2023 solution: sigmoid focal loss, EMA of weights and buffers, warm-up +
cosine LR (original: lRomul/ball-action-spotting@9c47153 src/losses.py, src/ema.py,
scripts/ball_action/train.py:127-152)."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable

import torch
from torch import nn

BASE_BATCH_SIZE = 4


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float = -1.0,
               gamma: float = 1.2) -> torch.Tensor:
    """Sigmoid focal loss, mean over batch and classes (original: src/losses.py:5-50);
    ``alpha < 0`` disables weighting."""
    logits, targets = logits.float(), targets.float()
    ce = nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p = torch.sigmoid(logits)
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    return loss.mean()


class ModelEma(nn.Module):
    """Exponential moving average of every state-dict entry (parameters and buffers), as the
    original's src/ema.py:12-58."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        super().__init__()
        self.module = copy.deepcopy(model).eval()
        self.decay = decay
        for parameter in self.module.parameters():
            parameter.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """ema = decay·ema + (1 − decay)·live, entry by entry (integer buffers are copied).

        An entry equal to the live one is left alone: the average of equal values is that value,
        and skipping keeps a frozen encoder bit-identical instead of drifting by rounding.
        """
        live = model.state_dict()
        for key, ema_value in self.module.state_dict().items():
            value = live[key].to(ema_value.device)
            if torch.equal(ema_value, value):
                continue
            if ema_value.dtype.is_floating_point:
                ema_value.mul_(self.decay).add_(value, alpha=1 - self.decay)
            else:
                ema_value.copy_(value)


def scaled_lr(base_lr: float, batch_size: int) -> float:
    """Linear LR scaling with the batch size, base batch 4 (original: src/utils.py:86-87)."""
    return base_lr * batch_size / BASE_BATCH_SIZE


def lr_factor(step: int, warmup_steps: int, total_steps: int, min_factor: float) -> float:
    """LR multiplier at optimiser ``step``: linear 0→1 warm-up, then cosine 1→``min_factor``."""
    if step < warmup_steps:
        return step / warmup_steps
    cosine_steps = max(total_steps - warmup_steps, 1)
    progress = min((step - warmup_steps) / cosine_steps, 1.0)
    return min_factor + (1 - min_factor) * (1 + math.cos(math.pi * progress)) / 2


def build_optimizer(parameters: Iterable[nn.Parameter], name: str, lr: float,
                    weight_decay: float = 0.01) -> torch.optim.Optimizer:
    """AdamW (torch defaults, weight decay 0.01) or SGD with Nesterov momentum 0.9 (original:
    configs/ball_action/sampling_weights_001.py:51-53, ball_finetune_long_004.py:51-55)."""
    params = [p for p in parameters if p.requires_grad]
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True,
                               weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'adamw' or 'sgd', got {name!r}")
