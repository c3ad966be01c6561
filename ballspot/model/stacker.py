"""The slow-fusion stacker of the 2023 solution: 2D encoder on stacks of 3 frames, 3D across stacks.

Shapes (paper setting, 15 frames of 736x1280): clip (B, 15, H, W) -> forward_2d (B, 5, 192, H/32,
W/32) -> forward_3d (B, 1280, H/32, W/32) -> forward_head logits (B, num_classes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import timm
import torch
from timm.layers import DropPath, create_conv2d, get_act_layer, get_norm_act_layer
from torch import nn

from ballspot.core.errors import BallspotError


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of :class:`MultiDimStacker`; defaults are the paper values.

    The paper values are those of the original configs (e.g. lRomul/ball-action-spotting@9c47153
    configs/ball_action/sampling_weights_001.py:30-45); the original class defaults differ.
    """

    model_name: str = "tf_efficientnetv2_b0"
    num_classes: int = 2
    num_frames: int = 15
    stack_size: int = 3
    index_2d_features: int = 4
    pretrained: str | None = None  # local timm backbone weights (safetensors or torch state dict)
    num_3d_blocks: int = 4
    num_3d_features: int = 192
    expansion_3d_ratio: int = 3
    se_reduce_3d_ratio: int = 24
    num_3d_stack_proj: int = 256
    drop_rate: float = 0.2
    drop_path_rate: float = 0.2
    act_layer: str = "silu"

    @classmethod
    def from_params(cls, params: Mapping[str, Any],
                    source: str | Path | None = None) -> ModelConfig:
        """Build from a params mapping; unknown keys raise :class:`BallspotError` naming source."""
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(params) - names)
        if unknown:
            raise BallspotError(source, f"unknown model parameter(s) {unknown}; "
                                        f"known: {sorted(names)}")
        config = cls(**dict(params))
        if config.num_frames <= 0 or config.num_frames % config.stack_size:
            raise BallspotError(source, f"model num_frames={config.num_frames} is not a positive "
                                        f"multiple of stack_size={config.stack_size}")
        return config

    def to_params(self) -> dict[str, Any]:
        """The plain dict that :meth:`from_params` reads back (for dumping beside the weights)."""
        return dataclasses.asdict(self)

    @property
    def num_stacks(self) -> int:
        """Number of 2D stacks per clip (5 for 15 frames, 11 for 33)."""
        return self.num_frames // self.stack_size


def _cpu_channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` in channels-last layout on the CPU (4D or 5D), else as it is.

    oneDNN's backward of a depthwise convolution is 3-4x faster channels-last than in the default
    layout (measured on the 2-core default: a training step 0.508 s -> 0.265 s, README "Measured
    on the built-in default"); the forward moves in the last float bits only. CUDA keeps its own
    layout choice; a traced export (ONNX has no layouts) too.
    """
    if x.device.type != "cpu" or torch.jit.is_tracing():
        return x
    layout = torch.channels_last_3d if x.dim() == 5 else torch.channels_last
    return x.contiguous(memory_format=layout)


class BatchNormAct3d(nn.Module):
    """BatchNorm3d followed by an optional activation."""

    def __init__(self, num_features: int, act_layer: type[nn.Module] | None) -> None:
        super().__init__()
        self.bn3d = nn.BatchNorm3d(num_features)
        self.act = act_layer(inplace=True) if act_layer is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn3d(x))


class SqueezeExcite3d(nn.Module):
    """Channel gate from the (T, H, W) mean: conv reduce -> act -> conv expand -> sigmoid."""

    def __init__(self, channels: int, reduce_ratio: int, act_layer: type[nn.Module]) -> None:
        super().__init__()
        reduced = channels // reduce_ratio
        self.conv_reduce = nn.Conv3d(channels, reduced, 1, bias=True)
        self.act1 = act_layer(inplace=True)
        self.conv_expand = nn.Conv3d(reduced, channels, 1, bias=True)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.conv_expand(self.act1(self.conv_reduce(x.mean((2, 3, 4), keepdim=True))))
        return x * self.gate(scale)


class InvertedResidual3d(nn.Module):
    """MBConv in 3D: 1x1x1 expand, depthwise 3x3x3, squeeze-excite, 1x1x1 project, residual."""

    def __init__(self, channels: int, expansion_ratio: int, se_reduce_ratio: int,
                 act_layer: type[nn.Module], drop_path_rate: float) -> None:
        super().__init__()
        mid = channels * expansion_ratio
        self.conv_pw = nn.Conv3d(channels, mid, 1, bias=False)
        self.bn1 = BatchNormAct3d(mid, act_layer)
        self.conv_dw = nn.Conv3d(mid, mid, 3, padding=1, groups=mid, bias=False)
        self.bn2 = BatchNormAct3d(mid, act_layer)
        self.se = SqueezeExcite3d(mid, se_reduce_ratio, act_layer)
        self.conv_pwl = nn.Conv3d(mid, channels, 1, bias=False)
        self.bn3 = BatchNormAct3d(channels, None)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv_dw(self.bn1(self.conv_pw(x))))
        out = self.bn3(self.conv_pwl(self.se(out)))
        return self.drop_path(out) + x


class GeneralizedMeanPooling(nn.Module):
    """GeM pooling to (B, C) with a learnable scalar exponent p."""

    def __init__(self, p: float = 3.0, eps: float = 1e-6) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.ones(1) * p)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = nn.functional.adaptive_avg_pool2d(x.clamp(min=self.eps).pow(self.p), 1)
        return pooled.pow(1.0 / self.p).flatten(1)


class MultiDimStacker(nn.Module):
    """2.5D + 3D clip classifier; see the module docstring for shapes."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.num_frames <= 0 or config.num_frames % config.stack_size:
            raise ValueError(f"num_frames={config.num_frames} is not a multiple of "
                             f"stack_size={config.stack_size}")
        self.config = config
        self.stack_size = config.stack_size
        self.num_stacks = config.num_stacks
        self.num_3d_features = config.num_3d_features
        self.num_features = config.num_3d_stack_proj * self.num_stacks
        self.drop_rate = config.drop_rate
        self.encoder_frozen = False
        act_layer = get_act_layer(config.act_layer)
        norm_act_layer = get_norm_act_layer(nn.BatchNorm2d, act_layer)

        self.conv2d_encoder = timm.create_model(
            config.model_name, pretrained=False, features_only=True,
            out_indices=[config.index_2d_features], in_chans=config.stack_size,
            drop_rate=config.drop_rate, drop_path_rate=config.drop_path_rate)
        _drop_unread_blocks(self.conv2d_encoder)
        encoder_channels = self.conv2d_encoder.feature_info.channels()[-1]
        self.conv2d_projection = nn.Sequential(
            create_conv2d(encoder_channels, config.num_3d_features, kernel_size=1),
            norm_act_layer(config.num_3d_features, inplace=True))
        self.conv3d_encoder = nn.Sequential(*[
            InvertedResidual3d(config.num_3d_features, config.expansion_3d_ratio,
                               config.se_reduce_3d_ratio, act_layer, config.drop_path_rate)
            for _ in range(config.num_3d_blocks)])
        self.conv3d_projection = nn.Sequential(
            create_conv2d(config.num_3d_features, config.num_3d_stack_proj, kernel_size=1),
            norm_act_layer(config.num_3d_stack_proj, inplace=True))
        self.global_pool = GeneralizedMeanPooling(3.0)
        self.classifier = nn.Linear(self.num_features, config.num_classes, bias=True)
        if config.pretrained is not None:
            load_backbone_weights(self.conv2d_encoder, config.pretrained)

    def forward_2d(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, H, W) frames -> (B, T/stack_size, num_3d_features, H/32, W/32), stack by stack."""
        b, t, h, w = x.shape
        if t % self.stack_size:
            raise ValueError(f"{t} frames are not a multiple of stack_size={self.stack_size}")
        stacks = t // self.stack_size
        stacked = _cpu_channels_last(x.reshape(b * stacks, self.stack_size, h, w))
        features = self.conv2d_projection(self.conv2d_encoder(stacked)[-1])
        return features.reshape(b, stacks, *features.shape[1:])

    def forward_3d(self, x: torch.Tensor) -> torch.Tensor:
        """(B, num_stacks, C, h, w) stack features -> (B, num_features, h, w), stack-major."""
        b, t, c, h, w = x.shape
        if t != self.num_stacks or c != self.num_3d_features:
            raise ValueError(f"forward_3d expects (B, {self.num_stacks}, {self.num_3d_features}, "
                             f"h, w), got {tuple(x.shape)}")
        x = self.conv3d_encoder(_cpu_channels_last(x.transpose(1, 2))).transpose(1, 2)
        x = self.conv3d_projection(_cpu_channels_last(x.reshape(b * t, c, h, w)))
        return x.reshape(b, self.num_features, h, w)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """(B, num_features, h, w) -> logits (B, num_classes)."""
        x = self.global_pool(x)
        if self.drop_rate > 0.0:
            x = nn.functional.dropout(x, p=self.drop_rate, training=self.training)
        return self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, num_frames, H, W) in [0, 1] -> logits (B, num_classes)."""
        return self.forward_head(self.forward_3d(self.forward_2d(x)))

    def train(self, mode: bool = True) -> MultiDimStacker:
        """nn.Module.train, but a frozen 2D encoder stays in eval mode (fixed BN, no drop path)."""
        super().train(mode)
        if self.encoder_frozen:
            self.conv2d_encoder.eval()
        return self


def _drop_unread_blocks(encoder: nn.Module) -> None:
    """Remove the encoder blocks past the level the model reads.

    timm's features-only encoders build and run every block even when ``out_indices`` stops
    earlier: at ``index_2d_features: 3`` the last stage of tf_mobilenetv3_small_100 holds 4.2 M
    of its 6.8 M parameters and a quarter of the 2D time, for an output nobody reads. The
    feature of stage ``s`` is taken after ``blocks[s - 1]``, so ``blocks[:s]`` is all it needs.
    """
    read = getattr(encoder, "_stage_out_idx", None)
    blocks = getattr(encoder, "blocks", None)
    if not read or not isinstance(blocks, nn.Sequential):
        return
    keep = max(read)
    if keep < len(blocks):
        encoder.blocks = blocks[:keep]


def without_unread_blocks(model: nn.Module, state: Mapping[str, torch.Tensor]
                          ) -> dict[str, torch.Tensor]:
    """``state`` less the 2D encoder blocks ``model`` no longer builds.

    Weights saved before :func:`_drop_unread_blocks` hold those blocks; their output was never
    read, so dropping them leaves every prediction unchanged.
    """
    own = model.state_dict()
    return {key: value for key, value in state.items()
            if key in own or not key.startswith("conv2d_encoder.blocks.")}


def build_model(config: ModelConfig) -> MultiDimStacker:
    """A :class:`MultiDimStacker` from its config (random init, or local backbone weights)."""
    return MultiDimStacker(config)


def freeze_conv2d_encoder(model: MultiDimStacker) -> None:
    """Freeze the 2D encoder for real: no gradients, BN statistics fixed and drop-path off.

    Unlike the 2023 solution, which only sets ``requires_grad=False`` (original:
    src/argus_models.py:104-110) and calls ``train()`` on the whole model (line 42 there), the
    encoder stays in eval mode even when the model trains.
    Build the optimizer over ``p for p in model.parameters() if p.requires_grad``.
    """
    for parameter in model.conv2d_encoder.parameters():
        parameter.requires_grad_(False)
    model.encoder_frozen = True
    model.conv2d_encoder.eval()


def load_transfer_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> list[str]:
    """Copy every tensor of ``state_dict`` whose key and shape match ``model``; return skipped keys.

    Keys present in only one of the two are skipped too (and returned), so a stage can start from
    a related model: e.g. 15 -> 33 frames keeps everything but ``classifier.weight`` (shapes
    compared as in the original's src/utils.py:67-83).
    """
    own = model.state_dict()
    skipped = sorted(set(own) ^ set(state_dict))
    matched = {}
    for key, tensor in state_dict.items():
        if key not in own:
            continue
        if tensor.shape != own[key].shape:
            skipped.append(key)
        else:
            matched[key] = tensor
    model.load_state_dict(matched, strict=False)
    return skipped


def centre_classifier(model: MultiDimStacker, state_dict: Mapping[str, torch.Tensor]
                      ) -> dict[str, torch.Tensor]:
    """``state_dict`` with a shorter model's classifier weight placed on ``model``'s central stacks.

    The head reads stack-major features (``num_3d_stack_proj`` per stack), so a 5-stack weight
    (C, 5 x P) becomes the central 5 of 11 stacks' columns, zeros elsewhere: the longer model
    starts predicting what the shorter one did instead of from a fresh classifier. A weight of
    the same shape, or one that cannot be centred, is returned unchanged.
    """
    key = "classifier.weight"
    own = model.state_dict()[key]
    weight = state_dict.get(key)
    proj = model.config.num_3d_stack_proj
    if weight is None or weight.shape == own.shape or weight.shape[0] != own.shape[0] \
            or weight.shape[1] % proj:
        return dict(state_dict)
    stacks, spare = weight.shape[1] // proj, model.num_stacks - weight.shape[1] // proj
    if spare <= 0 or spare % 2:
        return dict(state_dict)
    centred = torch.zeros_like(own)
    start = spare // 2 * proj
    centred[:, start:start + stacks * proj] = weight
    return {**state_dict, key: centred}


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise BallspotError(path, "pretrained weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file for the user
        raise BallspotError(path, f"cannot read weights: {type(exc).__name__}: {exc}") from None
    for wrapper in ("state_dict", "model", "nn_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict):
        raise BallspotError(path, "weights file does not hold a state dict")
    return state


def load_backbone_weights(encoder: nn.Module, path: str | Path) -> None:
    """Load a local timm backbone state dict into the features-only 2D encoder.

    Extra keys (classification head) are ignored; a missing key or a shape mismatch raises
    :class:`BallspotError` naming the file. Never downloads.
    """
    path = Path(path)
    state = _read_state_dict(path)
    prefix = "conv2d_encoder."
    if any(key.startswith(prefix) for key in state):
        state = {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
    own = encoder.state_dict()
    missing = [key for key in own if key not in state]
    if missing:
        raise BallspotError(path, f"incompatible backbone weights: {len(missing)} missing keys, "
                                  f"e.g. {missing[:3]}")
    wrong = [key for key in own if tuple(state[key].shape) != tuple(own[key].shape)]
    if wrong:
        key = wrong[0]
        raise BallspotError(path, f"incompatible backbone weights: {key} has shape "
                                  f"{tuple(state[key].shape)}, the model needs "
                                  f"{tuple(own[key].shape)}")
    encoder.load_state_dict({key: state[key] for key in own})
