"""The simulated match: a possession chain of passes, drives and set pieces in world metres,
players running to their formation and to the ball, per frame at the video's fps."""

from __future__ import annotations

import math

import numpy as np

from ballspot.data.synthetic.camera import _camera_path
from ballspot.data.synthetic.config import (
    _FORMATION,
    N_TEAM,
    PITCH_L,
    PITCH_W,
    REFEREE,
    SyntheticConfig,
    _stable_seed,
)
from ballspot.data.synthetic.motion import Motion
from ballspot.data.synthetic.plays import Plays
from ballspot.data.synthetic.track import Event, Track


class _Simulator(Plays, Motion):
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
