"""Frames as the model takes them, shared by training and prediction: which frames make a clip
(:class:`StackIndexes`), padded to a multiple of 32 and scaled to [0, 1]."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class StackIndexes:
    """Clip frame indexes: ``size`` frames ``step`` apart around a centre frame (original:
    src/indexes.py:6-32)."""

    size: int
    step: int

    def __post_init__(self) -> None:
        if self.size < 1 or self.step < 1:
            raise ValueError(f"stack size and step must be >= 1, got {self.size}, {self.step}")

    @property
    def behind(self) -> int:
        """Frames the clip reaches before its centre."""
        return (self.size // 2) * self.step

    @property
    def ahead(self) -> int:
        """Frames the clip reaches after its centre."""
        return (self.size - self.size // 2 - 1) * self.step

    def make(self, centre: int) -> list[int]:
        """The clip's frame indexes ``centre - behind, ..., centre + ahead``."""
        start = int(centre) - self.behind
        return [start + k * self.step for k in range(self.size)]

    def clip(self, index: int, frame_count: int, save_zone: int = 0) -> int:
        """Move a centre so the clip, plus ``save_zone`` frames each side, fits the video."""
        low = self.behind + save_zone
        high = frame_count - self.ahead - save_zone - 1
        if high < low:
            raise ValueError(
                f"a video of {frame_count} frames is too short for a clip reaching "
                f"{self.behind}+{self.ahead} frames with save zone {save_zone}"
            )
        return int(min(max(int(index), low), high))
