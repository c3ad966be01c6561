"""Focal loss, EMA and the learning-rate schedule."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ballspot.train.optim import ModelEma, build_optimizer, focal_loss, lr_factor, scaled_lr


def test_focal_loss_with_gamma_zero_and_no_alpha_is_bce() -> None:
    logits, targets = torch.randn(8, 2), torch.randint(0, 2, (8, 2)).float()
    bce = nn.functional.binary_cross_entropy_with_logits(logits, targets)
    assert torch.allclose(focal_loss(logits, targets, alpha=-1, gamma=0.0), bce)


def test_focal_loss_matches_the_formula_on_one_value() -> None:
    logit, alpha, gamma = 0.7, 0.4, 1.2
    p = 1 / (1 + math.exp(-logit))
    positive = -math.log(p) * (1 - p) ** gamma * alpha
    negative = -math.log(1 - p) * p ** gamma * (1 - alpha)
    loss = focal_loss(torch.tensor([[logit, logit]]), torch.tensor([[1.0, 0.0]]), alpha, gamma)
    assert loss.item() == pytest.approx((positive + negative) / 2, rel=1e-6)


def test_focal_loss_down_weights_easy_examples() -> None:
    easy = focal_loss(torch.tensor([[4.0]]), torch.tensor([[1.0]]))
    hard = focal_loss(torch.tensor([[-1.0]]), torch.tensor([[1.0]]))
    bce_ratio = math.log(1 + math.exp(-4)) / math.log(1 + math.exp(1))
    assert easy / hard < bce_ratio


def test_ema_averages_parameters_and_buffers() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = ModelEma(model, decay=0.9)
    start = {k: v.clone() for k, v in ema.module.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model.train()(torch.randn(4, 2))  # moves the BN running statistics
    ema.update(model)
    for key, value in ema.module.state_dict().items():
        live = model.state_dict()[key]
        if value.dtype.is_floating_point:
            assert torch.allclose(value, 0.9 * start[key] + 0.1 * live), key
        else:
            assert torch.equal(value, live), key


def test_lr_warms_up_linearly_then_follows_a_cosine_to_the_minimum() -> None:
    assert lr_factor(0, 10, 110, 0.01) == 0.0
    assert lr_factor(5, 10, 110, 0.01) == 0.5
    assert lr_factor(10, 10, 110, 0.01) == pytest.approx(1.0)
    assert lr_factor(60, 10, 110, 0.01) == pytest.approx(0.505)
    assert lr_factor(110, 10, 110, 0.01) == pytest.approx(0.01)


def test_lr_scales_linearly_with_batch_size() -> None:
    assert scaled_lr(3e-4, 8) == pytest.approx(6e-4)


def test_optimizer_skips_frozen_parameters() -> None:
    model = nn.Linear(2, 2)
    model.bias.requires_grad_(False)
    optimizer = build_optimizer(model.parameters(), "sgd", 0.1)
    assert len(optimizer.param_groups[0]["params"]) == 1
    assert optimizer.param_groups[0]["nesterov"]


def test_the_ema_says_when_it_is_still_mostly_the_initial_weights() -> None:
    from ballspot.train.step import ema_horizon_notice

    notice = ema_horizon_notice(0.99, 50)
    assert notice is not None and "61%" in notice and "50 steps" in notice
    assert ema_horizon_notice(0.95, 50) is None  # 8 % left
    assert ema_horizon_notice(0.999, 1) is not None
    assert ema_horizon_notice(0.0, 1) is None


@pytest.mark.parametrize("stage", ["train_basic", "train_action", "train_tuning",
                                   "train_finetune"])
def test_the_default_training_stages_run_long_enough_for_their_ema(stage: str) -> None:
    import yaml
    from conftest import REPO

    from ballspot.pipeline.schema import stage_values
    from ballspot.train.step import ema_horizon_notice

    block = stage_values(yaml.safe_load((REPO / "params.yaml").read_text()), stage)
    steps = (-(-block["train_epoch_size"] // block["batch_size"])
             * (block["epochs_warmup"] + block["epochs_train"]))
    assert ema_horizon_notice(block["ema_decay"], steps) is None
