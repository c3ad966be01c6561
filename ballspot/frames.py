"""Frame processing shared by training and prediction: pad to a multiple of 32, scale to [0, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812

PAD_MULTIPLE = 32  # the stride of the 2D encoder's last feature map


def padded_size(height: int, width: int, multiple: int = PAD_MULTIPLE) -> tuple[int, int]:
    """(H_out, W_out): the smallest multiples of ``multiple`` that hold (height, width)."""
    return -(-height // multiple) * multiple, -(-width // multiple) * multiple


def pad_normalize(frames: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Pad uint8 frames (..., H, W) with zeros to ``size`` = (W_out, H_out), then divide by 255.

    Without ``size`` the frames are padded to the next multiples of 32. The padding is split as in
    the 2023 solution: ``pad // 2`` on top (left), the rest at the bottom (right). Returns float32
    in [0, 1].
    """
    if frames.dtype != torch.uint8:
        raise ValueError(f"pad_normalize expects uint8 frames, got {frames.dtype}")
    height, width = frames.shape[-2:]
    if size is None:
        out_height, out_width = padded_size(height, width)
    else:
        out_width, out_height = size
    if out_height < height or out_width < width:
        raise ValueError(f"frames of {width}x{height} do not fit the pad size "
                         f"{out_width}x{out_height}")
    pad_h, pad_w = out_height - height, out_width - width
    out = frames.to(torch.float32)
    if pad_h or pad_w:
        out = F.pad(out, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2),
                    mode="constant", value=0.0)
    return out / 255.0
