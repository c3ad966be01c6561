"""A simulated half as data: world positions per frame, the events and the camera path."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Event:
    """A simulated event: frame of foot contact (or of the ball crossing a line)."""

    frame: int
    label: str
    team: int  # 0 or 1
    visibility: str = "visible"


@dataclass
class Track:
    """One simulated half: world positions per frame and the events."""

    fps: int
    ball: np.ndarray  # (T, 3) x, y, z in metres
    players: np.ndarray  # (T, P, 2) ground positions in metres
    phase: np.ndarray  # (T, P) running-stride phase in radians
    events: list[Event]
    left_team: int  # team defending x = 0 in this half
    cuts: list[int] = field(default_factory=list)  # frames where the broadcast cuts
    camera: np.ndarray | None = None  # (T, 3) aim x, aim y, view width in metres

    @property
    def num_frames(self) -> int:
        return len(self.ball)
