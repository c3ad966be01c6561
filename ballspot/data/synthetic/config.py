"""The generator's settings and the world it simulates (pitch, ball, players, kits)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ballspot.core.errors import BallspotError
from ballspot.data.encoder import CODECS
from ballspot.data.soccernet import VIDEO_EXTS

BALL_CLASSES = ("PASS", "DRIVE")
ACTION_CLASSES = ("Kick-off", "Goal", "Shots on target", "Shots off target", "Clearance",
                  "Ball out of play", "Throw-in", "Corner")

PITCH_L, PITCH_W = 105.0, 68.0
GOAL_HALF_W, GOAL_H = 3.66, 2.44
BALL_R = 0.11  # m
GRAVITY = 9.81  # m/s^2
PLAYER_H = 1.8  # m
N_TEAM = 11
REFEREE = 2 * N_TEAM  # index of the referee in the player arrays
WALL_Y = PITCH_W + 4.0  # advertising boards and stands behind the far touchline
AIM_REACH = 0.25  # the camera aims at most this share of the view width away from the ball

# 4-4-2 for a team attacking +x (the other team is mirrored); GK first
_FORMATION = np.array([
    (3, 34), (16, 10), (14, 26), (14, 42), (16, 58),
    (34, 12), (32, 28), (32, 40), (34, 56), (48, 26), (48, 42),
], dtype=np.float64)
_KITS = np.array([  # RGB shirt colours; shorts are picked separately
    (200, 30, 35), (30, 60, 170), (215, 215, 210), (25, 25, 30), (235, 200, 40),
    (240, 120, 30), (110, 170, 225), (110, 40, 130), (150, 20, 50), (20, 120, 110),
], dtype=np.uint8)


@dataclass(frozen=True)
class SyntheticConfig:
    """Generator params: sizes, codec and the difficulty knobs (units in the names)."""

    seed: int = 0
    half_seconds: float = 60.0
    width: int = 256
    height: int = 144
    codec: str = "h264"
    gop: int = 250
    crf: int = 23
    ext: str = "mkv"
    # rendering
    noise_sigma: float = 4.0  # Gaussian sensor noise, 0-255 levels
    blur_sigma: float = 0.5  # optical blur in pixels (0: none)
    ball_min_radius_px: float = 1.6  # the ball is never drawn smaller (it is ~0.7 px at 256 wide)
    view_width_m: tuple[float, float] = (30.0, 55.0)  # zoom: horizontal view at the aim point
    camera_lag_s: float = 0.45  # pan time constant: the camera follows the ball late
    occlusion: bool = True  # players nearer the camera may hide the ball
    # a learning-curve control, never a default: each event drawn as a square in a corner for
    # this many frames from its frame (0: none), a cue real video lacks
    cue_frames: int = 0
    # ball dynamics
    pass_speed_mps: tuple[float, float] = (10.0, 25.0)
    drive_speed_mps: tuple[float, float] = (4.0, 8.0)
    pass_share: float = 0.6  # share of PASS among ball events
    loft_share: float = 0.15  # share of passes over 20 m played in the air
    roll_decel_mps2: float = 1.8  # rolling friction
    hold_mean_s: float = 1.0  # mean possession time after a reception, on top of hold_min_s
    hold_min_s: float = 0.2
    # action dataset
    action_gap_s: tuple[float, float] = (7.0, 14.0)  # open play between two actions
    not_shown_share: float = 0.1  # actions the camera misses (close-up elsewhere)

    def __post_init__(self) -> None:
        problems = []
        if self.width < 16 or self.height < 16 or self.width % 2 or self.height % 2:
            problems.append(f"width and height must be even and >= 16, got "
                            f"{self.width}x{self.height}")
        if self.half_seconds <= 0:
            problems.append(f"half_seconds must be > 0, got {self.half_seconds}")
        if self.codec not in CODECS:
            problems.append(f"codec must be one of {sorted(CODECS)}, got {self.codec!r}")
        if self.ext not in VIDEO_EXTS:
            problems.append(f"ext must be one of {list(VIDEO_EXTS)}, got {self.ext!r}")
        for name in ("view_width_m", "pass_speed_mps", "drive_speed_mps", "action_gap_s"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                problems.append(f"{name} must be a range 0 < low <= high, got {[low, high]}")
        for name in ("pass_share", "loft_share", "not_shown_share"):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.cue_frames < 0:
            problems.append(f"cue_frames must be >= 0, got {self.cue_frames}")
        if self.hold_min_s <= 0 or self.hold_mean_s < 0:
            problems.append("hold_min_s must be > 0 and hold_mean_s >= 0")
        if problems:
            raise BallspotError(None, "synthetic params: " + "; ".join(problems))

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SyntheticConfig:
        """Build from a params block; unknown keys raise :class:`BallspotError`."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - set(fields))
        if unknown:
            raise BallspotError(None, f"unknown synthetic params {unknown} "
                                      f"(known: {sorted(fields)})")
        values: dict[str, Any] = {}
        for key, value in params.items():
            default = fields[key].default
            if isinstance(default, tuple):
                value = tuple(float(v) for v in value)
            elif isinstance(default, bool):
                value = bool(value)
            elif isinstance(default, int):
                value = int(value)
            elif isinstance(default, float):
                value = float(value)
            else:
                value = str(value)
            values[key] = value
        return cls(**values)


def _stable_seed(*parts: object) -> int:
    """A 64-bit seed from the parts' text (SHA-256; never Python's salted hash())."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")
