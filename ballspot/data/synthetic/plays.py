"""What happens to the ball: passes, drives and their events, the action dataset's kicks, set
pieces and restarts (a mixin of the simulator, which holds the state)."""

from __future__ import annotations

import math

import numpy as np

from ballspot.data.synthetic.config import (
    GRAVITY,
    N_TEAM,
    PITCH_L,
    PITCH_W,
    REFEREE,
)
from ballspot.data.synthetic.track import Event


class Plays:
    """Kicks and set pieces of :class:`ballspot.data.synthetic.simulation._Simulator`."""

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
