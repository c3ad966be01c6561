"""Built-in synthetic SoccerNet-format data: simulated matches rendered as broadcast video.

Players and the ball are simulated in world metres (pitch 105 x 68, x along the touchlines,
y across, z up; the broadcast camera stands beside the near touchline at y < 0). The ball moves
in a possession chain: the holder dribbles, then either passes (the ball leaves his feet fast
towards a teammate, who or an opponent receives it) or drives (a touch that pushes the ball a few
metres ahead, then he catches up). An event sits on the frame of foot contact: the ball is at the
kicker's feet on that frame and moves with the new velocity from the next one. Nothing but the
ball's motion tells an event apart: receptions, dribbling, running players and the panning,
zooming camera go on all the time. A pinhole camera renders each frame with OpenCV, then blur,
sensor noise and a real codec (:class:`ballspot.encoder.VideoWriter`) finish the broadcast look.

The action variant plays set pieces (kick-off, throw-in, corner, goal kick), shots, clearances,
goals and balls out of play, labelled in the SoccerNet-v2 schema. Every random choice comes from a
numpy Generator seeded by a SHA-256 of (seed, game, half, purpose): the same params give
byte-identical files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from ballspot.encoder import CODECS, VideoWriter
from ballspot.errors import BallspotError
from ballspot.soccernet import VIDEO_EXTS, Annotation, DatasetSpec, write_labels

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


# ---------------------------------------------------------------------------------------------
# Simulation


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


class _Simulator:
    """Per-frame possession-chain physics at ``fps`` (dt = 1 / fps)."""

    def __init__(self, config: SyntheticConfig, fps: int, num_frames: int,
                 rng: np.random.Generator, half: int, action: bool) -> None:
        self.c, self.fps, self.n, self.rng, self.action = config, fps, num_frames, rng, action
        self.dt = 1.0 / fps
        self.attack = np.array([1.0, -1.0]) if half % 2 == 1 else np.array([-1.0, 1.0])
        p = 2 * N_TEAM + 1
        self.team = np.array([0] * N_TEAM + [1] * N_TEAM + [2])
        self.base = np.concatenate([_FORMATION, _FORMATION, [[50.0, 30.0]]])
        self.pos = np.array([self._anchor(i, np.array([52.5, 34.0]), -1) for i in range(p)])
        self.pos += rng.normal(0, 1.0, self.pos.shape)
        self.vel = np.zeros((p, 2))
        self.phase = rng.uniform(0, 2 * np.pi, p)
        self.jog = rng.uniform(2.5, 4.0, p)
        self.foot = rng.choice([-1.0, 1.0], p)
        self.offset = rng.normal(0, 3.0, (p, 2))
        self.ball = np.array([52.5, 34.0, 0.0])
        self.bvel = np.zeros(3)
        self.mode = "held"  # held | free | dead
        self.events: list[Event] = []
        self.cuts: list[int] = []
        self.set_piece: str | None = None
        self.restart: tuple[str, int, np.ndarray] | None = None
        self.kicker, self.kick_frame, self.receiver = -1, -10**6, -1
        self.shot_outcome: str | None = None
        self.dribble_speed = 3.0
        self.next_action = self._frames(rng.uniform(*config.action_gap_s))
        if action:
            self._setup_kickoff(int(rng.integers(0, 2)), 0)
            self.countdown = self._frames(rng.uniform(1.0, 2.0))
        else:
            self.holder = int(rng.integers(1, 2 * N_TEAM))
            self.pos[self.holder] = self.ball[:2] + rng.normal(0, 0.3, 2)
            self.theta = 0.0 if self.attack[self.team[self.holder]] > 0 else np.pi
            self.countdown = self._hold_frames()
        self.last_team = int(self.team[self.holder])

    # --- helpers ---------------------------------------------------------------------------
    def _frames(self, seconds: float) -> int:
        return max(1, round(seconds * self.fps))

    def _hold_frames(self) -> int:
        return self._frames(self.c.hold_min_s + self.rng.exponential(self.c.hold_mean_s))

    def _anchor(self, i: int, ball: np.ndarray, possession: int) -> np.ndarray:
        """Formation place of player ``i``: the block shifts with the ball and possession."""
        if i == REFEREE:
            return np.clip(ball[:2] + np.array([-7.0, 8.0]), 2, [PITCH_L - 2, PITCH_W - 2])
        t = self.team[i]
        sign = self.attack[t]
        ball_rel = ball[0] if sign > 0 else PITCH_L - ball[0]
        bx, by = self.base[i]
        if i % N_TEAM == 0:  # goalkeeper
            x = np.clip(bx + 0.08 * (ball_rel - 52.5), 1.0, 12.0)
            y = 34.0 + 0.15 * (ball[1] - 34.0)
        else:
            push = 6.0 if possession == t else -2.0
            x = np.clip(bx + 0.55 * (ball_rel - 52.5) + 8.0 + push, 6.0, 100.0)
            y = by + 0.3 * (ball[1] - 34.0)
        x = x if sign > 0 else PITCH_L - x
        return np.clip(np.array([x, y]), 1.5, [PITCH_L - 1.5, PITCH_W - 1.5])

    def _goal_x(self, team: int) -> float:
        """x of the goal that ``team`` attacks."""
        return PITCH_L if self.attack[team] > 0 else 0.0

    def _emit(self, frame: int, label: str | None, team: int) -> None:
        if label is not None and frame < self.n:
            self.events.append(Event(frame, label, team))

    def _kick(self, frame: int, vxy: np.ndarray, vz: float, label: str | None,
              receiver: int = -1) -> None:
        """The ball leaves the holder's feet on ``frame`` with velocity (vxy, vz)."""
        kicker = self.holder
        team = int(self.team[kicker])
        self._emit(frame, label, team)
        self.mode, self.kicker, self.kick_frame, self.receiver = "free", kicker, frame, receiver
        self.bvel = np.array([vxy[0], vxy[1], vz])
        self.last_team, self.set_piece, self.holder = team, None, -1

    # --- decisions -------------------------------------------------------------------------
    def _teammate(self, kicker: int, dmin: float, dmax: float) -> int:
        team = self.team[kicker]
        mates = [j for j in range(2 * N_TEAM) if self.team[j] == team and j != kicker]
        d = np.linalg.norm(self.pos[mates] - self.pos[kicker], axis=1)
        opp = self.pos[self.team == 1 - team]
        open_ = np.array([np.min(np.linalg.norm(opp - self.pos[j], axis=1)) for j in mates])
        fwd = (self.pos[mates, 0] - self.pos[kicker, 0]) * self.attack[team]
        w = np.exp(-d / 18.0) * np.clip(open_, 1.0, 6.0) * (1.0 + 0.5 * (fwd > 0))
        w = np.where((d >= dmin) & (d <= dmax), w, 0.0)
        if w.sum() <= 0:
            return -1
        return int(mates[self.rng.choice(len(mates), p=w / w.sum())])

    def _pass(self, frame: int, receiver: int, label: str | None = "PASS",
              speed: tuple[float, float] | None = None, loft: bool | None = None) -> None:
        start = self.ball[:2]
        d0 = np.linalg.norm(self.pos[receiver] - start)
        aim = self.pos[receiver] + self.vel[receiver] * d0 / 15.0
        aim = np.clip(aim, 2.0, [PITCH_L - 2, PITCH_W - 2])
        delta = aim - start
        d = max(float(np.linalg.norm(delta)), 1.0)
        low, high = speed or self.c.pass_speed_mps
        v = self.rng.uniform(low, high)
        if loft is None:
            loft = d > 20 and self.rng.random() < self.c.loft_share
        vz = 0.0
        if loft:  # flight time d / v under gravity: vz = g t / 2
            v = self.rng.uniform(max(low, 12.0), max(high, 12.0))
            vz = GRAVITY * (d / v) / 2
        else:  # enough speed to arrive rolling at >= 3 m/s
            v = min(max(v, math.sqrt(2 * self.c.roll_decel_mps2 * d + 9.0)), high * 1.2)
        self._kick(frame, delta / d * v, vz, label, receiver)

    def _drive(self, frame: int, label: str | None = "DRIVE") -> None:
        th = self.theta + self.rng.normal(0, 0.25)
        lo, hi = self.c.drive_speed_mps
        # a push ahead: clearly faster than the dribbling feet
        carried = float(np.linalg.norm(self.vel[self.holder]))
        v = min(max(self.rng.uniform(lo, hi), carried + 3.0), hi)
        for _ in range(8):  # turn inwards until the ball would stop inside the pitch
            d = np.array([math.cos(th), math.sin(th)])
            stop = self.ball[:2] + d * v * v / (2 * self.c.roll_decel_mps2)
            if 3 < stop[0] < PITCH_L - 3 and 3 < stop[1] < PITCH_W - 3:
                break
            centre = np.array([52.5, 34.0]) - self.ball[:2]
            th = 0.5 * th + 0.5 * math.atan2(centre[1], centre[0])
        runner = self.holder
        self._kick(frame, d * v, 0.0, label, runner)
        self.dribble_speed = self.rng.uniform(5.5, 7.5)

    def _ball_event(self, frame: int) -> None:
        """Open play: the holder passes or drives."""
        if self.rng.random() < self.c.pass_share:
            receiver = self._teammate(self.holder, 5.0, 40.0)
            if receiver >= 0:
                self._pass(frame, receiver, "PASS" if not self.action else None)
                return
        self._drive(frame, "DRIVE" if not self.action else None)

    def _action_kick(self, frame: int) -> None:
        """A labelled action chosen by where the holder is."""
        t = int(self.team[self.holder])
        gx = self._goal_x(t)
        to_goal = abs(gx - self.ball[0])
        own = abs((PITCH_L - gx) - self.ball[0])
        r = self.rng
        if to_goal < 36 and abs(self.ball[1] - 34) < 28:
            on = r.random() < 0.45
            if on:
                ty, tz = 34 + r.uniform(-3.0, 3.0), r.uniform(0.1, 2.0)
                self.shot_outcome = str(r.choice(["goal", "parry", "block"], p=[.35, .35, .3]))
            else:
                side = r.choice([-1.0, 1.0])
                if r.random() < 0.6:
                    ty, tz = 34 + side * r.uniform(4.5, 9.0), r.uniform(0.1, 2.5)
                else:
                    ty, tz = 34 + r.uniform(-3.0, 3.0), r.uniform(2.9, 4.5)
                self.shot_outcome = None
            delta = np.array([gx, ty]) - self.ball[:2]
            d = float(np.linalg.norm(delta))
            v = r.uniform(18.0, 28.0)
            tt = d / v
            vz = (tz + GRAVITY * tt * tt / 2) / tt
            self._kick(frame, delta / d * v, vz, "Shots on target" if on else "Shots off target")
        elif own < 35:
            th = (0.0 if self.attack[t] > 0 else np.pi) + r.uniform(-0.7, 0.7)
            v = r.uniform(20.0, 27.0)
            self._kick(frame, v * np.array([math.cos(th), math.sin(th)]), r.uniform(8, 13),
                       "Clearance")
        elif r.random() < 0.7:  # a long ball forward: the action stays due
            aim = np.array([gx - self.attack[t] * r.uniform(14, 24), r.uniform(14, 54)])
            mates = [j for j in range(2 * N_TEAM) if self.team[j] == t and j % N_TEAM]
            receiver = min(mates, key=lambda j: np.linalg.norm(self.pos[j] - aim))
            self._pass(frame, receiver, None, (18.0, 24.0), loft=True)
            return
        else:  # a misplaced ball over the nearer touchline
            ty = -3.0 if self.ball[1] < 34 else PITCH_W + 3.0
            aim = np.array([self.ball[0] + r.uniform(-15, 15), ty])
            delta = aim - self.ball[:2]
            v = r.uniform(13.0, 18.0)
            self._kick(frame, delta / np.linalg.norm(delta) * v, 0.0, None)
        self.next_action = frame + self._frames(r.uniform(*self.c.action_gap_s))

    def _setup_kickoff(self, team: int, frame: int) -> None:
        for i in range(2 * N_TEAM + 1):
            self.pos[i] = self._anchor(i, np.array([52.5, 34.0]), -1)
        self.vel[:] = 0
        self.holder = team * N_TEAM + 9
        self.ball = np.array([52.5, 34.0, 0.0])
        self.pos[self.holder] = self.ball[:2] - np.array([0.4 * self.attack[team], 0.0])
        self.set_piece, self.mode, self.bvel = "Kick-off", "held", np.zeros(3)
        self.theta = 0.0 if self.attack[team] > 0 else np.pi

    def _setup_restart(self, kind: str, team: int, spot: np.ndarray, frame: int) -> None:
        """Teleport ball and taker for a set piece (the broadcast cuts to it)."""
        self.cuts.append(frame)
        if kind == "Kick-off":
            self._setup_kickoff(team, frame)
        else:
            field_players = [j for j in range(2 * N_TEAM) if self.team[j] == team]
            if kind == "goal kick":
                taker = team * N_TEAM
            else:
                taker = min(field_players[1:], key=lambda j: np.linalg.norm(self.pos[j] - spot))
            self.holder = taker
            inward = np.array([52.5, 34.0]) - spot
            inward /= np.linalg.norm(inward)
            # the taker stands just inside, so a thrown-in ball starts in play
            self.pos[taker] = spot + inward * (0.3 if kind == "Throw-in" else -0.4)
            self.vel[taker] = 0
            self.ball = np.array([spot[0], spot[1], 0.0])
            self.bvel = np.zeros(3)
            self.mode, self.set_piece = "held", kind
            self.theta = math.atan2(inward[1], inward[0])
        self.countdown = self._frames(self.rng.uniform(1.0, 2.0))

    def _set_piece_kick(self, frame: int) -> None:
        kind, t, r = self.set_piece, int(self.team[self.holder]), self.rng
        gx = self._goal_x(t)
        if kind == "Throw-in":
            receiver = self._teammate(self.holder, 5.0, 22.0)
            receiver = receiver if receiver >= 0 else self._teammate(self.holder, 1.0, 80.0)
            aim = self.pos[receiver]
            delta = aim - self.ball[:2]
            d = max(float(np.linalg.norm(delta)), 1.0)
            v = r.uniform(9.0, 13.0)
            self._kick(frame, delta / d * v, r.uniform(1.0, 3.0), "Throw-in", receiver)
        elif kind == "Corner":
            aim = np.array([gx - self.attack[t] * r.uniform(5, 13), 34 + r.uniform(-9, 9)])
            delta = aim - self.ball[:2]
            d = float(np.linalg.norm(delta))
            v = r.uniform(15.0, 21.0)
            self._kick(frame, delta / d * v, GRAVITY * (d / v) / 2, "Corner")
        elif kind == "goal kick":
            th = (0.0 if self.attack[t] > 0 else np.pi) + r.uniform(-0.5, 0.5)
            v = r.uniform(20.0, 26.0)
            self._kick(frame, v * np.array([math.cos(th), math.sin(th)]), r.uniform(9, 13), None)
        else:  # kick-off: a short pass backwards
            mates = [j for j in range(1, N_TEAM)] if t == 0 else list(range(N_TEAM + 1, REFEREE))
            receiver = min(mates[:8], key=lambda j: abs(self.pos[j, 0] - 52.5 + 12 * self.attack[t])
                           + abs(self.pos[j, 1] - 34))
            self._pass(frame, receiver, "Kick-off", (8.0, 12.0), loft=False)

    # --- per-frame update ------------------------------------------------------------------
    def _targets(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each player heads and how fast he may run (m, m/s)."""
        possession = self.last_team
        target = np.array([self._anchor(i, self.ball, possession) for i in range(len(self.pos))])
        target += self.offset
        cap = self.jog.copy()
        if self.mode == "free":
            eta = self.ball[:2] + self.bvel[:2] * 0.6
            for t in (0, 1):
                idx = np.flatnonzero(self.team == t)
                d = np.linalg.norm(self.pos[idx] - eta, axis=1)
                j = idx[int(np.argmin(d))]
                target[j], cap[j] = eta, 7.0
            if self.receiver >= 0:
                speed = np.linalg.norm(self.bvel[:2])
                stop = self.ball[:2] + self.bvel[:2] * speed / (2 * self.c.roll_decel_mps2 + 1e-9)
                if self.ball[2] > 0 or self.bvel[2] > 0:  # in the air: meet it where it lands
                    vz, z = self.bvel[2], self.ball[2]
                    t_land = (vz + math.sqrt(vz * vz + 2 * GRAVITY * z)) / GRAVITY
                    stop = self.ball[:2] + self.bvel[:2] * (t_land + 0.3)
                path = np.linspace(self.ball[:2], stop, 12)
                d = np.linalg.norm(path - self.pos[self.receiver], axis=1)
                target[self.receiver] = path[int(np.argmin(d))] if self.receiver != self.kicker \
                    else self.ball[:2] + self.bvel[:2] * 0.3
                cap[self.receiver] = 7.5
            if self.shot_outcome is not None:
                gk = (1 - self.last_team) * N_TEAM
                cross = self.ball[:2] + self.bvel[:2] * abs(
                    (self._goal_x(self.last_team) - self.ball[0]) / (self.bvel[0] + 1e-9))
                target[gk], cap[gk] = np.clip(cross, 0.5, [PITCH_L - .5, PITCH_W - .5]), 7.0
        elif self.mode == "held" and self.set_piece is None:
            opp = np.flatnonzero(self.team == 1 - self.team[self.holder])
            d = np.linalg.norm(self.pos[opp] - self.pos[self.holder], axis=1)
            j = opp[int(np.argmin(d))]
            away = self.pos[j] - self.pos[self.holder]
            target[j] = self.pos[self.holder] + away / (np.linalg.norm(away) + 1e-9) * 1.8
            cap[j] = 5.0
        if self.mode == "held" and self.set_piece == "Corner":
            # both teams crowd the box
            t = self.team[self.holder]
            gx = self._goal_x(t)
            for i in range(2 * N_TEAM):
                if i % N_TEAM and (i // N_TEAM == 1 - t or i % 3 == 0):
                    target[i] = [gx - self.attack[t] * (6 + (i % 5) * 2.5), 24 + (i * 7) % 20]
        return target, cap

    def _move_players(self) -> None:
        r, dt = self.rng, self.dt
        self.offset += (-self.offset / 4.0) * dt + r.normal(0, 3.0 * math.sqrt(2 * dt / 4.0),
                                                           self.offset.shape)
        target, cap = self._targets()
        desired = (target - self.pos) * 0.9
        if self.mode == "held":
            h = self.holder
            if self.set_piece is None:
                goal = 0.0 if self.attack[self.team[h]] > 0 else np.pi
                diff = (goal - self.theta + np.pi) % (2 * np.pi) - np.pi
                self.theta += 0.4 * diff * dt + r.normal(0, 0.9) * math.sqrt(dt)
                edge = np.array([52.5, 34.0]) - self.pos[h]
                if not (8 < self.pos[h, 0] < PITCH_L - 8 and 8 < self.pos[h, 1] < PITCH_W - 8):
                    want = math.atan2(edge[1], edge[0])
                    self.theta += 2.0 * ((want - self.theta + np.pi) % (2 * np.pi) - np.pi) * dt
                self.dribble_speed += (4.0 - self.dribble_speed) * 0.3 * dt + r.normal(0, 0.15)
                self.dribble_speed = float(np.clip(self.dribble_speed, 1.5, 5.0))
                desired[h] = self.dribble_speed * np.array([math.cos(self.theta),
                                                            math.sin(self.theta)])
                cap[h] = 7.5
            else:
                desired[h], cap[h] = 0.0, 0.0
        elif self.mode == "free" and self.kicker >= 0 and self.receiver == self.kicker:
            desired[self.kicker] = self.dribble_speed * np.array([math.cos(self.theta),
                                                                   math.sin(self.theta)])
            cap[self.kicker] = self.dribble_speed
        speed = np.linalg.norm(desired, axis=1, keepdims=True)
        desired *= np.minimum(1.0, cap[:, None] / (speed + 1e-9))
        dv = desired - self.vel
        dvn = np.linalg.norm(dv, axis=1, keepdims=True)
        self.vel += dv * np.minimum(1.0, 5.0 * dt / (dvn + 1e-9))
        if self.mode == "held" and self.set_piece is not None:
            self.vel[self.holder] = 0.0
        self.pos += self.vel * dt
        self.pos = np.clip(self.pos, [-2.0, -2.0], [PITCH_L + 2, PITCH_W + 2])
        self.phase += np.linalg.norm(self.vel, axis=1) * dt * 2.6

    def _move_ball(self, frame: int) -> None:
        dt, c = self.dt, self.c
        if self.mode == "held":
            h = self.holder
            if self.set_piece == "Throw-in":
                self.ball = np.array([self.pos[h, 0], self.pos[h, 1], 2.1])
                return
            if self.set_piece is not None:
                return
            sp = np.linalg.norm(self.vel[h])
            d = self.vel[h] / sp if sp > 0.5 else np.array([math.cos(self.theta),
                                                           math.sin(self.theta)])
            # ahead of the stronger foot, so the body rarely hides it
            want = self.pos[h] + d * 0.45 + np.array([-d[1], d[0]]) * 0.3 * self.foot[h]
            # close control: the ball follows the feet smoothly (no jump at a reception)
            self.ball[:2] += 0.4 * (want - self.ball[:2])
            self.ball[2] = max(0.0, self.ball[2] - 0.5)
            self.bvel = np.zeros(3)
            return
        b, v = self.ball, self.bvel
        if b[2] > 0 or v[2] > 0:
            v[2] -= GRAVITY * dt
            b += v * dt
            if b[2] < 0:
                b[2] = 0.0
                if v[2] < -1.5:
                    v[2] *= -0.45
                    v[:2] *= 0.6
                else:
                    v[2] = 0.0
        else:
            speed = np.linalg.norm(v[:2])
            decel = c.roll_decel_mps2 if self.mode == "free" else 8.0
            v[:2] *= max(0.0, 1 - decel * dt / (speed + 1e-9))
            b[:2] += v[:2] * dt
        if self.mode == "dead":
            return
        if self.shot_outcome in ("parry", "block"):
            gx = self._goal_x(self.last_team)
            if abs(b[0] - gx) < 1.2:
                out = 1.0 if gx > 0 else -1.0
                if self.shot_outcome == "parry":
                    side = 1.0 if b[1] >= 34 else -1.0
                    self.bvel = np.array([out * 3.0, side * 9.0, 3.0])
                else:
                    self.bvel = np.array([-out * 2.0, self.rng.normal(0, 2), 0.0])
                    self.ball[2] = min(self.ball[2], 0.3)
                self.shot_outcome = None
        inside = 0 <= b[0] <= PITCH_L and 0 <= b[1] <= PITCH_W
        if not inside:
            if not self.action:  # the ball dataset keeps the ball in play: it rebounds
                if not 0 <= b[0] <= PITCH_L:
                    v[0] *= -0.5
                if not 0 <= b[1] <= PITCH_W:
                    v[1] *= -0.5
                b[:2] = np.clip(b[:2], 0.0, [PITCH_L, PITCH_W])
            else:
                self._out_of_play(frame + 1)
                return
        self._control(frame + 1)

    def _out_of_play(self, frame: int) -> None:
        b = self.ball
        last = self.last_team
        self.mode, self.shot_outcome, self.receiver = "dead", None, -1
        delay = self.rng.uniform(2.0, 3.5)
        if not 0 <= b[0] <= PITCH_L:
            gx = 0.0 if b[0] < 0 else PITCH_L
            defending = 0 if self._goal_x(1) == gx else 1
            if abs(b[1] - 34) < GOAL_HALF_W and b[2] < GOAL_H:
                self._emit(frame, "Goal", 1 - defending)
                self.bvel[:2] *= 0.2  # the net stops it
                self.restart = ("Kick-off", defending, np.array([52.5, 34.0]))
                delay = self.rng.uniform(4.0, 6.0)
            else:
                self._emit(frame, "Ball out of play", last)
                if last == defending:
                    corner = np.array([gx, 0.0 if b[1] < 34 else PITCH_W])
                    self.restart = ("Corner", 1 - defending, corner)
                else:
                    spot = np.array([abs(gx - 5.5), 34 + (9.0 if b[1] > 34 else -9.0)])
                    self.restart = ("goal kick", defending, spot)
        else:
            self._emit(frame, "Ball out of play", last)
            spot = np.array([np.clip(b[0], 1.0, PITCH_L - 1), 0.0 if b[1] < 0 else PITCH_W])
            self.restart = ("Throw-in", 1 - last, spot)
        self.restart_frame = frame + self._frames(delay)

    def _control(self, frame: int) -> None:
        """A free ball low enough is taken by the nearest player within reach."""
        if self.ball[2] > 1.0:
            return
        cool = self._frames(0.3)
        d = np.linalg.norm(self.pos - self.ball[:2], axis=1)
        d[REFEREE] = np.inf
        if frame - self.kick_frame < cool and self.kicker >= 0:
            d[self.kicker] = np.inf
        j = int(np.argmin(d))
        if d[j] > 0.75:
            return
        self.mode, self.holder, self.receiver, self.shot_outcome = "held", j, -1, None
        self.last_team = int(self.team[j])
        self.countdown = self._hold_frames()
        sp = np.linalg.norm(self.vel[j])
        if j != self.kicker or sp < 0.5:
            goal = 0.0 if self.attack[self.team[j]] > 0 else np.pi
            self.theta = math.atan2(self.vel[j, 1], self.vel[j, 0]) if sp > 0.5 else goal
            self.dribble_speed = float(np.clip(sp, 1.5, 5.0))
        self.kicker = -1

    def run(self) -> Track:
        n = self.n
        ball = np.zeros((n, 3))
        players = np.zeros((n, len(self.pos), 2))
        phase = np.zeros((n, len(self.pos)))
        for f in range(n):
            if self.mode == "held":
                self.countdown -= 1
                if self.countdown <= 0:
                    if self.set_piece is not None:
                        self._set_piece_kick(f)
                    elif self.action and f >= self.next_action:
                        self._action_kick(f)
                    else:
                        self._ball_event(f)
            elif self.mode == "dead" and f >= self.restart_frame and self.restart is not None:
                kind, team, spot = self.restart
                self.restart = None
                self._setup_restart(kind, team, spot, f)
            ball[f], players[f], phase[f] = self.ball, self.pos, self.phase
            self._move_players()
            self._move_ball(f)
        left = 0 if self.attack[0] > 0 else 1
        return Track(self.fps, ball, players, phase, self.events, left, self.cuts)


def _camera_path(track: Track, config: SyntheticConfig, rng: np.random.Generator) -> np.ndarray:
    """Aim point and view width per frame: a lagging pan after the ball and a slow zoom.

    Events marked "not shown" get a close-up on a far player around them (a broadcast cut).
    """
    n, dt = track.num_frames, 1.0 / track.fps
    ball = track.ball
    vel = np.gradient(ball[:, :2], axis=0) * track.fps
    lead = np.clip(vel * 0.5, -8.0, 8.0)
    raw = np.stack([ball[:, 0] + lead[:, 0], 34.0 + 0.55 * (ball[:, 1] + lead[:, 1] - 34.0)], 1)
    raw = np.clip(raw, [-5.0, 10.0], [PITCH_L + 5, PITCH_W - 10])
    # the wide shot's lead and its pull towards mid-pitch stay within a share of the view, so a
    # close-up keeps the ball in the picture near the touchlines too
    off = raw - ball[:, :2]
    omega = 1.0 / config.camera_lag_s
    lo, hi = np.log(config.view_width_m)
    logw = rng.uniform(lo, hi)
    cuts = set(track.cuts)
    closeups = np.full(n, -1)
    for ev in track.events:
        if ev.visibility != "visible":
            half = round(1.2 * track.fps)
            d = np.linalg.norm(track.players[ev.frame, :REFEREE] - ball[ev.frame, :2], axis=1)
            closeups[max(0, ev.frame - half): ev.frame + half] = int(np.argmax(d))
    out = np.zeros((n, 3))
    pos, v = None, np.zeros(2)
    for f in range(n):
        logw += (0.5 * (lo + hi) - logw) * dt / 8.0 + rng.normal(0, 0.12 * math.sqrt(dt))
        logw = float(np.clip(logw, lo, hi))
        reach = AIM_REACH * math.exp(logw)
        aim = ball[f, :2] + np.clip(off[f], -reach, reach)
        if closeups[f] >= 0:
            out[f] = (*track.players[f, closeups[f]], 12.0)
            pos, v = aim.copy(), np.zeros(2)  # cut back straight onto the ball afterwards
            continue
        if pos is None or f in cuts:
            pos, v = aim.copy(), np.zeros(2)
        acc = omega * omega * (aim - pos) - 2 * omega * v
        v += acc * dt
        pos += v * dt
        out[f] = (pos[0], pos[1], math.exp(logw))
    return out


def _mark_not_shown(track: Track, share: float, rng: np.random.Generator) -> None:
    """Mark some actions "not shown" when a far player (>= 25 m) can take the close-up."""
    for ev in track.events:
        if rng.random() < share:
            d = np.linalg.norm(track.players[ev.frame, :REFEREE] - track.ball[ev.frame, :2], axis=1)
            if d.max() >= 25.0:
                ev.visibility = "not shown"


def simulate_half(config: SyntheticConfig, game: str = "synthetic", half: int = 1,
                  fps: int = 25, seconds: float | None = None, action: bool = False) -> Track:
    """Simulate one half (with its camera path) from ``config.seed``, ``game`` and ``half``."""
    seconds = config.half_seconds if seconds is None else seconds
    n = max(1, round(seconds * fps))
    rng = np.random.default_rng(_stable_seed(config.seed, game, half, "play", int(action)))
    track = _Simulator(config, fps, n, rng, half, action).run()
    cam_rng = np.random.default_rng(_stable_seed(config.seed, game, half, "camera"))
    if action:
        _mark_not_shown(track, config.not_shown_share, cam_rng)
    track.camera = _camera_path(track, config, cam_rng)
    return track


# ---------------------------------------------------------------------------------------------
# Rendering


@dataclass
class Scene:
    """What stays fixed over a game: camera position, kits, boards and crowd."""

    camera_pos: np.ndarray  # (3,) metres
    kits: np.ndarray  # (P, 4, 3) uint8 RGB: shirt, shorts, socks, skin
    boards: np.ndarray  # (K, 3) uint8
    crowd: np.ndarray  # (64, 512, 3) uint8
    grass_phase: np.ndarray  # (2,) radians
    noise_seed: int


def make_scene(config: SyntheticConfig, game: str, half: int = 1) -> Scene:
    """The game's look, seeded by (seed, game); ``half`` only seeds the sensor noise."""
    rng = np.random.default_rng(_stable_seed(config.seed, game, "scene"))
    a, b = rng.choice(len(_KITS), 2, replace=False)
    p = 2 * N_TEAM + 1
    kits = np.zeros((p, 4, 3), dtype=np.uint8)
    for t, k in ((0, a), (1, b)):
        shorts = _KITS[k] if rng.random() < 0.5 else np.array((240, 240, 240), dtype=np.uint8)
        for i in range(t * N_TEAM, (t + 1) * N_TEAM):
            kits[i] = (_KITS[k], shorts, _KITS[k], (0, 0, 0))
        gk = np.array((60, 200, 90) if t == 0 else (230, 110, 200), dtype=np.uint8)
        kits[t * N_TEAM, :3] = (gk, (30, 30, 30), gk)
    kits[REFEREE, :3] = ((20, 20, 20), (20, 20, 20), (20, 20, 20))
    kits[:, 3] = np.array([(230, 190, 160), (200, 150, 110), (140, 95, 60), (90, 60, 40)],
                          dtype=np.uint8)[rng.integers(0, 4, p)]
    camera_pos = np.array([52.5, -rng.uniform(24.0, 32.0), rng.uniform(18.0, 24.0)])
    boards = rng.integers(20, 240, (6, 3)).astype(np.uint8)
    crowd = (rng.integers(25, 120, (64, 512, 1)) * rng.uniform(0.85, 1.15, (64, 512, 3)))
    crowd = np.clip(crowd, 0, 255).astype(np.uint8)
    return Scene(camera_pos, kits, boards, crowd, rng.uniform(0, 2 * np.pi, 2),
                 _stable_seed(config.seed, game, half, "noise"))


def _pitch_lines() -> list[np.ndarray]:
    """Pitch markings (and goal frames) as 3-D polylines sampled every ~0.5 m."""
    def seg(a: tuple[float, ...], b: tuple[float, ...]) -> np.ndarray:
        a3, b3 = np.array([*a, 0.0][:3]), np.array([*b, 0.0][:3])
        k = max(2, int(np.linalg.norm(b3 - a3) / 0.5) + 1)
        return np.linspace(a3, b3, k)

    def arc(cx: float, cy: float, r: float, t0: float, t1: float) -> np.ndarray:
        t = np.linspace(t0, t1, max(8, int(abs(t1 - t0) * r / 0.5)))
        return np.stack([cx + r * np.cos(t), cy + r * np.sin(t), np.zeros_like(t)], 1)

    length, wid = PITCH_L, PITCH_W
    lines = [seg((0, 0), (length, 0)), seg((length, 0), (length, wid)),
             seg((length, wid), (0, wid)), seg((0, wid), (0, 0)),
             seg((length / 2, 0), (length / 2, wid)), arc(length / 2, wid / 2, 9.15, 0, 2 * np.pi),
             arc(length / 2, wid / 2, 0.25, 0, 2 * np.pi)]
    for x0, s in ((0.0, 1.0), (length, -1.0)):
        for depth, half_w in ((16.5, 20.16), (5.5, 9.16)):
            y0, y1 = wid / 2 - half_w, wid / 2 + half_w
            x1 = x0 + s * depth
            lines.append(np.concatenate([seg((x0, y0), (x1, y0)), seg((x1, y0), (x1, y1)),
                                         seg((x1, y1), (x0, y1))]))
        spot = x0 + s * 11.0
        lines.append(arc(spot, wid / 2, 0.2, 0, 2 * np.pi))
        t = math.acos(5.5 / 9.15)
        lines.append(arc(spot, wid / 2, 9.15, -t, t) if s > 0 else
                     arc(spot, wid / 2, 9.15, np.pi - t, np.pi + t))
        lines.append(np.concatenate([seg((x0, wid / 2 - GOAL_HALF_W, 0), (x0, wid / 2 - GOAL_HALF_W,
                                                                         GOAL_H)),
                                     seg((x0, wid / 2 - GOAL_HALF_W, GOAL_H),
                                         (x0, wid / 2 + GOAL_HALF_W, GOAL_H)),
                                     seg((x0, wid / 2 + GOAL_HALF_W, GOAL_H),
                                         (x0, wid / 2 + GOAL_HALF_W, 0))]))
    return lines


_LINES = _pitch_lines()
_LINE_PTS = np.concatenate(_LINES)
_LINE_SPANS = list(zip(*(lambda e: (e[:-1], e[1:]))(np.cumsum([0] + [len(p) for p in _LINES])),
                       strict=True))


class _View:
    """Pinhole camera at ``pos`` aimed at ground point ``aim``; ``view_w`` metres wide there."""

    def __init__(self, pos: np.ndarray, aim: np.ndarray, view_w: float, width: int,
                 height: int) -> None:
        fwd = np.array([aim[0], aim[1], 0.0]) - pos
        dist = float(np.linalg.norm(fwd))
        self.fwd = fwd / dist
        right = np.cross(self.fwd, [0.0, 0.0, 1.0])
        self.right = right / np.linalg.norm(right)
        self.down = np.cross(self.fwd, self.right)
        self.pos, self.f = pos, width * dist / view_w
        self.cx, self.cy = (width - 1) / 2, (height - 1) / 2

    def project(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel (N, 2) and depth (N,) of world points (N, 3)."""
        rel = pts - self.pos
        depth = rel @ self.fwd
        safe = np.maximum(depth, 1e-3)
        uv = np.stack([self.cx + self.f * (rel @ self.right) / safe,
                       self.cy + self.f * (rel @ self.down) / safe], 1)
        return uv, depth


def _background(view: _View, scene: Scene, width: int, height: int) -> np.ndarray:
    """Grass with mowing stripes, boards and crowd, by casting one ray per pixel.

    Cast at half resolution and upscaled: everything here is smooth or blurred anyway, and the
    sharp parts (lines, players, ball) are drawn on top at full resolution.
    """
    w2, h2 = (width + 1) // 2, (height + 1) // 2
    a = ((np.arange(w2, dtype=np.float32) * 2 + 0.5 - view.cx) / view.f)[None, :]
    b = ((np.arange(h2, dtype=np.float32) * 2 + 0.5 - view.cy) / view.f)[:, None]
    fw, rt, dn = (v.astype(np.float32) for v in (view.fwd, view.right, view.down))
    dx = fw[0] + a * rt[0] + b * dn[0]
    dy = fw[1] + a * rt[1] + b * dn[1]
    dz = fw[2] + a * rt[2] + b * dn[2]
    cx, cy, cz = (np.float32(v) for v in view.pos)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        tg = np.where(dz < -1e-6, -cz / dz, np.float32(1e9))
        gx, gy = cx + tg * dx, cy + tg * dy
        tw = np.where(dy > 1e-6, (np.float32(WALL_Y) - cy) / dy, np.float32(1e6))
    ground = (tg < 1e8) & (gy <= WALL_Y)
    gx, gy = np.where(ground, gx, 0.0), np.where(ground, gy, 0.0)
    stripe = np.floor(gx * np.float32(1 / 5.25)) % 2
    on_pitch = (gx >= 0) & (gx <= PITCH_L) & (gy >= 0) & (gy <= PITCH_W)
    ph = scene.grass_phase
    shade = 7.0 * np.sin(gx * 0.11 + ph[0]) * np.sin(gy * 0.15 + ph[1])
    g = (130.0 + shade + 14.0 * stripe * on_pitch).astype(np.float32)
    img = np.stack([0.42 * g, g, 0.40 * g], -1).astype(np.uint8)
    wall = ~ground
    if wall.any():
        zw = np.clip(cz + tw[wall] * dz[wall], -1.0, 100.0)
        xw = np.clip(cx + tw[wall] * dx[wall], -1e4, 1e4)
        board = scene.boards[np.floor(xw / 8.0).astype(np.int64) % len(scene.boards)]
        crowd = scene.crowd[(zw * 3).astype(np.int64) % 64, (xw * 3).astype(np.int64) % 512]
        img[wall] = np.where((zw < 1.0)[:, None], board,
                             np.where((zw < 14.0)[:, None], crowd, np.uint8(45)))
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)


def _pt(u: float, v: float) -> tuple[int, int]:
    return int(round(u * 16)), int(round(v * 16))


def _draw_player(img: np.ndarray, u0: float, v0: float, h: float, phase: float, moving: float,
                 kit: np.ndarray) -> None:
    """A figure standing at pixel (u0, v0), ``h`` pixels tall, striding with ``phase``."""
    shirt, shorts, socks, skin = (tuple(int(c) for c in k) for k in kit)
    aa, sh = cv2.LINE_AA, 4
    thick = max(1, round(0.07 * h))
    cv2.ellipse(img, _pt(u0, v0), (int(0.16 * h * 16), int(0.04 * h * 16)), 0, 0, 360,
                (30, 70, 30), -1, aa, sh)
    swing = 0.13 * h * math.sin(phase) * moving
    for s in (swing, -swing):
        cv2.line(img, _pt(u0, v0 - 0.47 * h), _pt(u0 + s, v0), socks, thick, aa, sh)
    for s, side in ((swing, -1), (-swing, 1)):
        cv2.line(img, _pt(u0 + side * 0.13 * h, v0 - 0.78 * h),
                 _pt(u0 + side * 0.16 * h - 0.6 * s, v0 - 0.52 * h), skin, thick, aa, sh)
    w = 0.13 * h
    body = np.array([(u0 - w, v0 - 0.82 * h), (u0 + w, v0 - 0.82 * h),
                     (u0 + 0.8 * w, v0 - 0.55 * h), (u0 - 0.8 * w, v0 - 0.55 * h)])
    cv2.fillConvexPoly(img, (body * 16).round().astype(np.int32), shirt, aa, sh)
    pants = np.array([(u0 - 0.8 * w, v0 - 0.58 * h), (u0 + 0.8 * w, v0 - 0.58 * h),
                      (u0 + 0.8 * w, v0 - 0.45 * h), (u0 - 0.8 * w, v0 - 0.45 * h)])
    cv2.fillConvexPoly(img, (pants * 16).round().astype(np.int32), shorts, aa, sh)
    cv2.circle(img, _pt(u0, v0 - 0.9 * h), max(8, int(0.075 * h * 16)), skin, -1, aa, sh)


def _draw_ball(img: np.ndarray, view: _View, ball: np.ndarray, min_radius: float) -> None:
    uv, depth = view.project(np.array([[ball[0], ball[1], ball[2] + BALL_R],
                                       [ball[0], ball[1], 0.0]]))
    if depth[0] < 1.0:
        return
    r = max(min_radius, BALL_R * view.f / depth[0])
    if ball[2] > 0.3:  # shadow on the grass
        cv2.ellipse(img, _pt(*uv[1]), (int(r * 16), int(r * 8)), 0, 0, 360, (35, 80, 35), -1,
                    cv2.LINE_AA, 4)
    cv2.circle(img, _pt(*uv[0]), int(round(r * 16)), (245, 245, 240), -1, cv2.LINE_AA, 4)


def _draw_lines(img: np.ndarray, view: _View, thick: int) -> None:
    uv, depth = view.project(_LINE_PTS)
    height, width = img.shape[:2]
    for a, b in _LINE_SPANS:
        p_uv, ok = uv[a:b], depth[a:b] > 2.0
        lo, hi = p_uv.min(0), p_uv.max(0)
        if hi[0] < -10 or hi[1] < -10 or lo[0] > width + 10 or lo[1] > height + 10:
            continue
        if ok.all():
            runs = [p_uv]
        else:  # drop the part behind the camera
            cut = np.split(np.arange(len(ok)), np.flatnonzero(np.diff(ok.astype(np.int8))) + 1)
            runs = [p_uv[r] for r in cut if ok[r[0]] and len(r) > 1]
        polys = [np.clip(r * 16, -1e6, 1e6).round().astype(np.int32) for r in runs]
        cv2.polylines(img, polys, False, (228, 232, 226), thick, cv2.LINE_AA, 4)


def render_frame(track: Track, scene: Scene, config: SyntheticConfig, frame: int, width: int,
                 height: int, draw_ball: bool = True, noise: bool = True) -> np.ndarray:
    """RGB uint8 frame (height, width, 3) of ``track`` at ``frame``."""
    assert track.camera is not None
    aim_x, aim_y, view_w = track.camera[frame]
    view = _View(scene.camera_pos, np.array([aim_x, aim_y]), view_w, width, height)
    img = _background(view, scene, width, height)
    aim_dist = float(np.linalg.norm(view.pos - [aim_x, aim_y, 0.0]))
    _draw_lines(img, view, max(1, round(0.12 * view.f / aim_dist)))
    players = track.players[frame]
    n = len(players)
    prev = track.players[max(frame - 1, 0)]
    moving = np.clip(np.linalg.norm(players - prev, axis=1) * track.fps / 3.0, 0.0, 1.0)
    ground = np.concatenate([players, np.zeros((n, 1))], 1)
    uv, depth = view.project(np.concatenate([ground, ground + [0.0, 0.0, PLAYER_H]]))
    heights = uv[:n, 1] - uv[n:, 1]
    ball = track.ball[frame]
    # far to near, so that nearer players hide what is behind them (the ball included)
    order = sorted(range(n), key=lambda i: -players[i, 1])
    ball_at = (sum(players[i, 1] > ball[1] for i in range(n)) if config.occlusion else n)
    for i in [*order[:ball_at], -1, *order[ball_at:]]:
        if i < 0:
            if draw_ball:
                _draw_ball(img, view, ball, config.ball_min_radius_px)
            continue
        u0, v0, h = uv[i, 0], uv[i, 1], heights[i]
        if depth[i] > 1.0 and -h < u0 < width + h and -h < v0 < height + 2 * h:
            _draw_player(img, u0, v0, h, track.phase[frame, i], moving[i], scene.kits[i])
    if config.blur_sigma > 0:
        img = cv2.GaussianBlur(img, (0, 0), config.blur_sigma)
    if noise and config.noise_sigma > 0:
        rng = np.random.default_rng([scene.noise_seed, frame])
        n_ = rng.standard_normal(img.shape, dtype=np.float32) * np.float32(config.noise_sigma)
        img = np.clip(img.astype(np.float32) + n_, 0, 255).astype(np.uint8)
    return img


def render_frames(track: Track, scene: Scene, config: SyntheticConfig, width: int, height: int,
                  draw_ball: bool = True, noise: bool = True) -> Iterator[np.ndarray]:
    """Every frame of ``track`` in order (see :func:`render_frame`)."""
    for f in range(track.num_frames):
        yield render_frame(track, scene, config, f, width, height, draw_ball, noise)


def ball_pixel(track: Track, scene: Scene, frame: int, width: int, height: int) -> np.ndarray:
    """Where the ball's centre is drawn (u, v) in pixels at ``frame``."""
    assert track.camera is not None
    aim_x, aim_y, view_w = track.camera[frame]
    view = _View(scene.camera_pos, np.array([aim_x, aim_y]), view_w, width, height)
    b = track.ball[frame]
    return view.project(np.array([[b[0], b[1], b[2] + BALL_R]]))[0][0]


# ---------------------------------------------------------------------------------------------
# Writing datasets


def _write_video(path: Path, track: Track, scene: Scene, config: SyntheticConfig, width: int,
                 height: int, tick: Callable[[int], object] | None = None) -> int:
    with VideoWriter(path, width, height, fps=track.fps, codec=config.codec, gop=config.gop,
                     crf=config.crf) as writer:
        for frame in render_frames(track, scene, config, width, height):
            writer.write(frame)
            if tick is not None:
                tick(1)
    return path.stat().st_size


def _int_fps(spec: DatasetSpec) -> int:
    if spec.fps != round(spec.fps):
        raise BallspotError(None, f"synthetic data needs an integer fps, got {spec.fps}")
    return round(spec.fps)


def _check_games(spec: DatasetSpec, games: Sequence[str]) -> None:
    for game in games:
        if len(Path(game).parts) != 3:
            raise BallspotError(spec.task_dir / game, "game name must be league/season/game")


@dataclass(frozen=True)
class _HalfJob:
    """One half to simulate, render and encode (picklable, for a worker process)."""

    path: Path
    game: str
    half: int
    config: SyntheticConfig
    fps: int
    action: bool


@dataclass(frozen=True)
class _HalfResult:
    events: list[Event]
    left_team: int
    frames: int
    bytes: int


def _render_half(job: _HalfJob) -> _HalfResult:
    """Simulate, render and encode one half into ``job.path``."""
    track = simulate_half(job.config, job.game, job.half, job.fps, action=job.action)
    scene = make_scene(job.config, job.game, job.half)
    size = _write_video(job.path, track, scene, job.config, job.config.width, job.config.height)
    return _HalfResult(track.events, track.left_team, track.num_frames, size)


def _worker_init() -> None:
    cv2.setNumThreads(1)  # one core per worker process


def _render_halves(jobs: Sequence[_HalfJob], workers: int, desc: str, progress: bool
                   ) -> list[_HalfResult]:
    """Render ``jobs`` with ``workers`` processes; results in job order.

    Every half is seeded on its own (game, half) and encoded with one thread, so the files are
    byte-identical whatever the number of workers.
    """
    results: list[_HalfResult | None] = [None] * len(jobs)
    with tqdm(total=len(jobs), disable=not progress, unit="half", desc=desc) as bar:
        if workers <= 1 or len(jobs) <= 1:
            for i, job in enumerate(jobs):
                results[i] = _render_half(job)
                bar.update(1)
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context,
                                     initializer=_worker_init) as pool:
                futures = {pool.submit(_render_half, job): i for i, job in enumerate(jobs)}
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    bar.update(1)
    return [r for r in results if r is not None]


def _render_games(spec: DatasetSpec, games: Sequence[str], config: SyntheticConfig, fps: int,
                  action: bool, workers: int, desc: str, progress: bool, summary: dict[str, Any]
                  ) -> dict[str, list[tuple[int, _HalfResult]]]:
    """Render every half of ``games`` into the dataset; add their frames and bytes to
    ``summary``. Returns each game's ``(half, result)`` in half order."""
    jobs = [_HalfJob(spec.game_dir(game) / f"{spec.video_stem(half)}.{config.ext}", game, half,
                     config, fps, action) for game in games for half in spec.halves]
    by_game: dict[str, list[tuple[int, _HalfResult]]] = {game: [] for game in games}
    for job, result in zip(jobs, _render_halves(jobs, workers, desc, progress), strict=True):
        summary["frames"] += result.frames
        summary["bytes"] += result.bytes
        by_game[job.game].append((job.half, result))
    return by_game


def generate_ball_dataset(spec: DatasetSpec, hidden_labels_dir: str | Path,
                          config: SyntheticConfig, progress: bool = True, workers: int = 1
                          ) -> dict[str, Any]:
    """Write the ball dataset: labelled fold games, and challenge games with hidden labels.

    Fold games get ``spec.label_file`` in their folder; challenge games get theirs under
    ``hidden_labels_dir/<game>/`` only. ``workers`` processes render halves side by side (the
    files do not depend on it). Returns a summary (games, frames, events per class, bytes).
    """
    bad = [c for c in spec.classes if c not in BALL_CLASSES]
    if bad:
        raise BallspotError(None, f"synthetic ball data can only render {list(BALL_CLASSES)}, "
                                  f"not {bad}")
    fps = _int_fps(spec)
    labelled, hidden = spec.labelled_games, list(spec.challenge)
    _check_games(spec, labelled + hidden)
    summary: dict[str, Any] = {"games": len(labelled) + len(hidden),
                               "labelled_games": len(labelled),
                               "challenge_games": len(hidden), "halves": len(spec.halves),
                               "frames": 0, "bytes": 0,
                               "events": {c: 0 for c in spec.classes},
                               "challenge_events": {c: 0 for c in spec.classes},
                               "width": config.width, "height": config.height, "fps": fps}
    rendered = _render_games(spec, labelled + hidden, config, fps, False, workers,
                             "synthetic ball data", progress, summary)
    for game, halves in rendered.items():
        annotations = []
        for half, result in halves:
            for ev in result.events:
                if ev.label in spec.classes:
                    side = "left" if ev.team == result.left_team else "right"
                    annotations.append(Annotation(half, ev.frame, ev.label, side, "visible"))
        key = "events" if game in labelled else "challenge_events"
        for a in annotations:
            summary[key][a.label] += 1
        if game in labelled:
            write_labels(spec.label_path(game), game, annotations, spec.fps)
        else:
            write_labels(Path(hidden_labels_dir) / game / spec.label_file, game, annotations,
                         spec.fps)
    return summary


def generate_action_dataset(spec: DatasetSpec, games: Sequence[str], config: SyntheticConfig,
                            progress: bool = True, workers: int = 1) -> dict[str, Any]:
    """Write an action dataset (SoccerNet-v2 ``Labels-v2.json``) of simulated set pieces.

    Only the classes of ``spec.classes`` this generator can show by motion are produced
    (:data:`ACTION_CLASSES`). Returns a summary like :func:`generate_ball_dataset`.
    """
    classes = [c for c in spec.classes if c in ACTION_CLASSES]
    if not classes:
        raise BallspotError(None, f"none of the action classes {list(spec.classes)} can be "
                                  f"rendered (renderable: {list(ACTION_CLASSES)})")
    fps = _int_fps(spec)
    _check_games(spec, games)
    summary: dict[str, Any] = {"games": len(games), "halves": len(spec.halves), "frames": 0,
                               "bytes": 0, "events": {c: 0 for c in classes}, "not_shown": 0,
                               "width": config.width, "height": config.height, "fps": fps}
    rendered = _render_games(spec, games, config, fps, True, workers, "synthetic action data",
                             progress, summary)
    for game, halves in rendered.items():
        annotations = []
        for half, result in halves:
            for ev in result.events:
                if ev.label in classes:
                    annotations.append(Annotation(half, ev.frame, ev.label,
                                                  "home" if ev.team == 0 else "away",
                                                  ev.visibility))
                    summary["events"][ev.label] += 1
                    summary["not_shown"] += ev.visibility != "visible"
        write_labels(spec.label_path(game), game, annotations, spec.fps)
    return summary


def render_video(path: str | Path, seconds: float, fps: int, width: int, height: int,
                 seed: int = 0, config: SyntheticConfig | None = None) -> list[tuple[float, str]]:
    """Render one ball-action video; returns its events as (seconds, "PASS" | "DRIVE").

    Event times are exact frame times of this video (frame / fps).
    """
    config = dataclasses.replace(config or SyntheticConfig(), seed=seed)
    game = f"render_video/{fps}fps/{width}x{height}"
    track = simulate_half(config, game, 1, fps, seconds)
    scene = make_scene(config, game, 1)
    _write_video(Path(path), track, scene, config, width, height)
    return [(ev.frame / fps, ev.label) for ev in track.events]
