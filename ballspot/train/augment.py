"""Training augmentations of a clip batch, with kornia on CPU or GPU (original:
lRomul/ball-action-spotting@9c47153 src/ball_action/augmentations.py:7-22,
src/augmentations.py:42-78).

Input and output: float (B, T, H, W) in [0, 1] (the Gaussian noise may leave that range). kornia
reads dim 1 as channels, so each op draws one parameter set per sample and applies it to all T
frames alike; only the camera move (interpolated across T) and the noise (per pixel and frame)
vary over time. Every size is relative to the input frame, so small CPU frames work too.

Randomness: kornia draws from torch's global RNG. ``aug(frames, seed=s)`` runs under
``torch.random.fork_rng`` seeded with ``s`` (global state restored afterwards), so a batch's
augmentation depends only on ``s``; use ``augmentation_seed(seed, step)`` for ``s``. Without a
seed the call consumes the global RNG as usual. The same seed on CPU and CUDA gives different
noise and may give different parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import kornia.augmentation as kaug
import numpy as np
import torch
from kornia.geometry.transform import get_affine_matrix2d, warp_affine
from torch import nn

# Reference motion-blur kernel: 11 px at the original's 1280-px-wide frames.
_BLUR_KERNEL_FRACTION = 11 / 1280


def augmentation_seed(seed: int, step: int) -> int:
    """A 63-bit torch seed for the augmentation of batch ``step`` of a run seeded ``seed``."""
    state = np.random.SeedSequence([int(seed), int(step)]).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))


class RandomCameraMove(nn.Module):
    """Smooth pan/zoom/roll over a clip (original: src/augmentations.py:42-78), applied to a
    sample with probability ``p``.

    Two affine parameter sets are drawn per sample (angle U(-degrees, degrees); translation
    U(-tx, tx)·W, U(-ty, ty)·H pixels; isotropic scale U(*scale)); frame t of T gets the linear
    interpolation ``t / (T - 1)`` between them and is warped bilinearly with zero padding.
    """

    def __init__(
        self,
        degrees: float = 2.5,
        translate: tuple[float, float] = (0.1, 0.05),
        scale: tuple[float, float] = (0.95, 1.05),
        p: float = 0.2,
    ) -> None:
        super().__init__()
        self.degrees = float(degrees)
        self.translate = (float(translate[0]), float(translate[1]))
        self.scale = (float(scale[0]), float(scale[1]))
        self.p = float(p)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b, t, h, w = frames.shape
        chosen = torch.nonzero(torch.rand(b) < self.p).flatten()
        n = len(chosen)
        if n == 0:
            return frames

        def uniform(low: float, high: float) -> torch.Tensor:
            return low + (high - low) * torch.rand(n, 2, dtype=torch.float64)

        angle = uniform(-self.degrees, self.degrees)
        shift_x = uniform(-self.translate[0], self.translate[0]) * w
        shift_y = uniform(-self.translate[1], self.translate[1]) * h
        zoom = uniform(*self.scale)
        ramp = torch.linspace(0.0, 1.0, t, dtype=torch.float64)

        def across_time(pair: torch.Tensor) -> torch.Tensor:  # (n, 2) -> (n * t,)
            return (pair[:, :1] + (pair[:, 1:] - pair[:, :1]) * ramp).reshape(-1)

        shifts = torch.stack([across_time(shift_x), across_time(shift_y)], dim=1)
        zooms = across_time(zoom)[:, None].expand(-1, 2)
        centre = torch.tensor([[w / 2 - 0.5, h / 2 - 0.5]], dtype=torch.float64).expand(n * t, -1)
        matrix = get_affine_matrix2d(shifts, centre, zooms, across_time(angle))
        matrix = matrix[:, :2].to(device=frames.device, dtype=frames.dtype)
        chosen = chosen.to(frames.device)
        moved = warp_affine(frames[chosen].reshape(n * t, 1, h, w), matrix, (h, w),
                            mode="bilinear", padding_mode="zeros")
        out = frames.clone()
        out[chosen] = moved.reshape(n, t, h, w)
        return out


@dataclass(frozen=True)
class _Op:
    """A kornia op applied with probability ``prob`` per sample, or to the whole batch."""

    module: nn.Module
    prob: float
    per_sample: bool = True

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        if not self.per_sample:
            return self.module(frames) if torch.rand(()).item() < self.prob else frames
        chosen = torch.nonzero(torch.rand(frames.shape[0]) < self.prob).flatten()
        if len(chosen) == frames.shape[0]:
            return self.module(frames)
        if len(chosen) == 0:
            return frames
        chosen = chosen.to(frames.device)
        out = frames.clone()
        out[chosen] = self.module(frames[chosen])
        return out


@dataclass(frozen=True)
class AugmentationParams:
    """Probabilities and ranges of the ops, defaults = the 2023 solution (original:
    src/ball_action/augmentations.py:10-21)."""

    enabled: bool = True
    camera_move_prob: float = 0.2
    camera_move_degrees: float = 2.5
    camera_move_translate: tuple[float, float] = (0.1, 0.05)
    camera_move_scale: tuple[float, float] = (0.95, 1.05)
    rotation_prob: float = 0.3
    rotation_degrees: float = 2.5
    # Batch-level probability (as kornia's RandomResizedCrop treats p); crops are per sample.
    resized_crop_prob: float = 0.8
    resized_crop_scale: tuple[float, float] = (0.9, 1.0)
    # Crop height/width ratio is log-uniform in frame H/W ± this.
    resized_crop_ratio_delta: float = 0.1
    flip_prob: float = 0.5
    sharpness_prob: float = 0.2
    sharpness_factor: tuple[float, float] = (0.0, 1.0)
    motion_blur_prob: float = 0.2
    motion_blur_kernel_fraction: float = _BLUR_KERNEL_FRACTION
    motion_blur_angle: float = 7.5
    motion_blur_direction: float = 1.0
    brightness_prob: float = 0.3
    brightness_factor: tuple[float, float] = (0.8, 1.2)
    contrast_prob: float = 0.3
    contrast_factor: tuple[float, float] = (0.8, 1.2)
    posterize_prob: float = 0.2
    posterize_bits: tuple[float, float] = (3.0, 8.0)
    noise_prob: float = 0.2
    noise_std: float = 0.05


# params block: {op: {key: value}} -> AugmentationParams field "<op>_<key>"
_OPS = ("camera_move", "rotation", "resized_crop", "flip", "sharpness", "motion_blur",
        "brightness", "contrast", "posterize", "noise")


def _parse_params(params: Mapping[str, Any]) -> AugmentationParams:
    known = {f.name: f for f in fields(AugmentationParams)}
    values: dict[str, Any] = {}
    for key, value in params.items():
        if key == "enabled":
            values["enabled"] = bool(value)
            continue
        if key not in _OPS or not isinstance(value, Mapping):
            raise ValueError(f"unknown augmentation {key!r} (known: enabled, {', '.join(_OPS)})")
        for sub, item in value.items():
            name = f"{key}_{sub}"
            if name not in known:
                raise ValueError(f"unknown augmentation parameter {key}.{sub}")
            default = getattr(AugmentationParams, name)
            values[name] = (tuple(float(v) for v in item) if isinstance(default, tuple)
                            else type(default)(item))
    return replace(AugmentationParams(), **values)


class Augmentations(nn.Module):
    """The original pipeline (src/ball_action/augmentations.py:10-21) on (B, T, H, W) float
    clips; call as ``aug(frames, seed=None)``."""

    def __init__(self, params: AugmentationParams | None = None) -> None:
        super().__init__()
        self.params = params or AugmentationParams()
        p = self.params
        self.camera_move = RandomCameraMove(p.camera_move_degrees, p.camera_move_translate,
                                            p.camera_move_scale, p.camera_move_prob)
        self._by_size: dict[tuple[int, int], list[_Op]] = {}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Augmentations:
        """Build from a params block: ``enabled`` and ``{op: {prob, ...}}`` (AugmentationParams).

        E.g. ``{"enabled": True, "rotation": {"prob": 0.3, "degrees": 2.5}}``; missing keys keep
        the defaults, unknown keys raise ``ValueError``.
        """
        return cls(_parse_params(params))

    def _ops(self, height: int, width: int) -> list[_Op]:
        """The kornia ops after the camera move, sized for (height, width) frames."""
        key = (height, width)
        if key not in self._by_size:
            p = self.params
            frame_ratio = height / width
            delta = p.resized_crop_ratio_delta
            if not 0 <= delta < frame_ratio:
                raise ValueError(f"resized_crop ratio_delta {delta} must be in [0, H/W)")
            # kornia 0.9 samples ratio = crop width / height (0.6.12 sampled height / width)
            ratio = (1.0 / (frame_ratio + delta), 1.0 / (frame_ratio - delta))
            kernel = max(3, 2 * round((p.motion_blur_kernel_fraction * width - 1) / 2) + 1)
            # kornia modules at p=1: _Op draws who is augmented (kornia 0.9 would transform the
            # whole batch and blend, paying for every op on every sample)
            ops = [
                _Op(kaug.RandomRotation(p.rotation_degrees, p=1.0), p.rotation_prob),
                _Op(kaug.RandomResizedCrop((height, width), scale=p.resized_crop_scale,
                                           ratio=ratio, p=1.0),
                    p.resized_crop_prob, per_sample=False),
                _Op(kaug.RandomHorizontalFlip(p=1.0), p.flip_prob),
                _Op(kaug.RandomSharpness(p.sharpness_factor, p=1.0), p.sharpness_prob),
                _Op(kaug.RandomMotionBlur(kernel, p.motion_blur_angle, p.motion_blur_direction,
                                          border_type="constant", p=1.0), p.motion_blur_prob),
                _Op(kaug.RandomBrightness(p.brightness_factor, p=1.0), p.brightness_prob),
                _Op(kaug.RandomContrast(p.contrast_factor, p=1.0), p.contrast_prob),
                _Op(kaug.RandomPosterize(p.posterize_bits, p=1.0), p.posterize_prob),
                _Op(kaug.RandomGaussianNoise(std=p.noise_std, p=1.0), p.noise_prob),
            ]
            self._by_size[key] = [op for op in ops if op.prob > 0]
        return self._by_size[key]

    @torch.no_grad()
    def forward(self, frames: torch.Tensor, seed: int | None = None) -> torch.Tensor:
        """Augmented copy of ``frames`` (B, T, H, W); ``seed`` makes it reproducible."""
        if frames.ndim != 4:
            raise ValueError(f"expected frames (B, T, H, W), got shape {tuple(frames.shape)}")
        if not self.params.enabled:
            return frames
        if seed is None:
            return self._apply(frames)
        devices = [frames.device] if frames.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            return self._apply(frames)

    def _apply(self, frames: torch.Tensor) -> torch.Tensor:
        if self.params.camera_move_prob > 0:
            frames = self.camera_move(frames)
        for op in self._ops(frames.shape[-2], frames.shape[-1]):
            frames = op(frames)
        return frames
