"""Training augmentations on (B, T, H, W) clips with kornia (original:
lRomul/ball-action-spotting@9c47153 src/ball_action/augmentations.py:7-22,
src/augmentations.py:42-78)."""

from __future__ import annotations

import math
import time

import pytest
import torch

from ballspot.train.augment import (
    AugmentationParams,
    Augmentations,
    RandomCameraMove,
    augmentation_seed,
)

OPS = ("camera_move", "rotation", "resized_crop", "flip", "sharpness", "motion_blur",
       "brightness", "contrast", "posterize", "noise")
SAME_OVER_TIME = tuple(op for op in OPS if op not in ("camera_move", "noise"))


def only(op: str, **extra) -> Augmentations:
    """Augmentations with ``op`` always on and every other op off."""
    params = {name: {"prob": 1.0 if name == op else 0.0} for name in OPS}
    params[op].update(extra)
    return Augmentations.from_params(params)


def still_clip(b: int = 4, t: int = 5, h: int = 48, w: int = 80, seed: int = 0) -> torch.Tensor:
    """A clip whose T frames are one random image (per sample)."""
    gen = torch.Generator().manual_seed(seed)
    image = torch.rand(b, 1, h, w, generator=gen)
    return image.expand(b, t, h, w).contiguous()


def smooth_clip(b: int = 2, t: int = 15, h: int = 96, w: int = 160) -> torch.Tensor:
    """A still clip of a low-frequency pattern, so image differences grow with displacement."""
    y = torch.linspace(0, 2 * math.pi, h)[:, None]
    x = torch.linspace(0, 3 * math.pi, w)[None, :]
    image = 0.5 + 0.25 * torch.sin(x) + 0.2 * torch.cos(y)
    return image.expand(b, t, h, w).contiguous()


def test_default_augmentations_keep_shape_and_dtype():
    frames = torch.rand(4, 15, 96, 160)
    out = Augmentations()(frames, seed=0)
    assert out.shape == frames.shape and out.dtype == frames.dtype
    out = only("resized_crop")(torch.rand(2, 3, 50, 70), seed=1)
    assert out.shape == (2, 3, 50, 70)


@pytest.mark.parametrize("op", SAME_OVER_TIME)
def test_per_sample_op_transforms_every_frame_of_a_clip_alike(op):
    frames = still_clip()
    out = only(op)(frames, seed=3)
    assert not torch.allclose(out, frames), f"{op} did nothing"
    for t in range(1, frames.shape[1]):
        torch.testing.assert_close(out[:, t], out[:, 0], atol=1e-6, rtol=0)


def test_noise_differs_per_frame_and_has_the_configured_spread():
    frames = torch.full((2, 4, 64, 64), 0.5)
    out = only("noise")(frames, seed=0)
    assert not torch.allclose(out[:, 1], out[:, 0])
    assert (out - frames).std().item() == pytest.approx(0.05, rel=0.05)


def test_camera_move_changes_the_view_smoothly_over_the_clip():
    frames = smooth_clip()
    out = only("camera_move")(frames, seed=0)
    steps = (out[:, 1:] - out[:, :-1]).abs().mean(dim=(2, 3))  # (B, T - 1)
    total = (out[:, -1] - out[:, 0]).abs().mean(dim=(1, 2))  # (B,)
    assert (total > 0.01).all()
    assert (steps.max(dim=1).values < 0.3 * total).all()


def test_camera_move_with_identity_parameters_keeps_frames():
    move = RandomCameraMove(degrees=0.0, translate=(0.0, 0.0), scale=(1.0, 1.0), p=1.0)
    frames = smooth_clip(t=4)
    torch.testing.assert_close(move(frames), frames, atol=1e-4, rtol=0)


def test_zero_probabilities_and_disabled_are_identity():
    frames = torch.rand(3, 6, 40, 64)
    off = Augmentations.from_params({op: {"prob": 0.0} for op in OPS})
    assert torch.equal(off(frames, seed=0), frames)
    disabled = Augmentations.from_params({"enabled": False})
    assert torch.equal(disabled(frames, seed=0), frames)


def test_same_seed_gives_same_augmentation_and_leaves_global_rng_alone():
    frames = torch.rand(4, 15, 48, 80)
    everything = Augmentations.from_params({op: {"prob": 0.5} for op in OPS})
    torch.manual_seed(123)
    first = everything(frames, seed=augmentation_seed(0, 5))
    after = torch.rand(3)
    torch.manual_seed(123)
    second = everything(frames, seed=augmentation_seed(0, 5))
    assert torch.equal(first, second)
    assert torch.equal(torch.rand(3), after)
    assert not torch.equal(first, everything(frames, seed=augmentation_seed(0, 6)))


def test_resized_crop_keeps_the_frame_aspect_and_most_of_its_area():
    # kornia 0.9 samples ratio as crop width / height; we pass the inverse of H/W +- 0.1
    aug = only("resized_crop")
    h, w = 160, 256
    aug(torch.rand(64, 2, h, w), seed=0)
    crop = aug._ops(h, w)[0].module
    box = crop._params["src"]  # (B, 4, 2) corners, inclusive pixel coordinates
    widths = box[:, 1, 0] - box[:, 0, 0] + 1
    heights = box[:, 2, 1] - box[:, 1, 1] + 1
    ratio = heights / widths
    area = heights * widths / (h * w)
    assert ratio.min() >= h / w - 0.1 - 0.01 and ratio.max() <= h / w + 0.1 + 0.01
    assert ratio.max() - ratio.min() > 0.1  # the ratio really varies
    assert area.min() >= 0.9 - 0.01 and area.max() <= 1.0


def test_from_params_reads_nested_blocks_and_rejects_unknown_keys():
    aug = Augmentations.from_params({"rotation": {"prob": 0.5, "degrees": 4},
                                     "brightness": {"factor": [0.7, 1.3]}})
    assert aug.params.rotation_prob == 0.5 and aug.params.rotation_degrees == 4.0
    assert aug.params.brightness_factor == (0.7, 1.3)
    assert aug.params.noise_std == AugmentationParams().noise_std == 0.05
    with pytest.raises(ValueError, match="unknown augmentation"):
        Augmentations.from_params({"rotaton": {"prob": 0.5}})
    with pytest.raises(ValueError, match="rotation.angle"):
        Augmentations.from_params({"rotation": {"angle": 3}})


def test_defaults_are_the_paper_values():
    p = AugmentationParams()
    assert (p.camera_move_prob, p.rotation_prob, p.resized_crop_prob, p.flip_prob) == (
        0.2, 0.3, 0.8, 0.5)
    assert (p.sharpness_prob, p.motion_blur_prob, p.brightness_prob, p.contrast_prob) == (
        0.2, 0.2, 0.3, 0.3)
    assert (p.posterize_prob, p.noise_prob, p.noise_std) == (0.2, 0.2, 0.05)


def test_batch_runs_fast_on_cpu():
    aug = Augmentations()
    frames = torch.rand(4, 15, 96, 160)
    aug(frames, seed=0)  # first call builds the size-dependent ops
    start = time.perf_counter()
    for step in range(3):
        aug(frames, seed=augmentation_seed(0, step))
    assert (time.perf_counter() - start) / 3 < 1.5


@pytest.mark.gpu
def test_augmentations_run_on_cuda_reproducibly():
    frames = torch.rand(4, 15, 96, 160, device="cuda")
    everything = Augmentations.from_params({op: {"prob": 0.5} for op in OPS})
    first = everything(frames, seed=11)
    assert first.device == frames.device and first.shape == frames.shape
    assert torch.equal(first, everything(frames, seed=11))
