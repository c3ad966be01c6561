"""``scores.csv``: ``time_ms,frame,<class>...``, one row per predicted 25 fps frame, written
whole by ``spot`` and appended as rows arrive by ``spot --live``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ballspot.data.soccernet import FPS, frame_to_position


def scores_header(classes: Sequence[str]) -> str:
    """The header line (commas in class names become spaces), with its newline."""
    return ",".join(["time_ms", "frame", *(c.replace(",", " ") for c in classes)]) + "\n"


def scores_rows(indexes: np.ndarray, raw: np.ndarray) -> str:
    """The rows of ``indexes`` (N,) and ``raw`` (N, C), each with its newline."""
    return "".join(f"{frame_to_position(frame, FPS)},{frame},"
                   + ",".join(f"{v:.5f}" for v in row) + "\n"
                   for frame, row in zip(np.asarray(indexes).tolist(), raw, strict=True))
