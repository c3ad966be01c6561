"""How things move between plays: players towards their targets (formation, ball, marking),
the ball in flight and rolling, and the ball leaving the pitch (a mixin of the simulator)."""

from __future__ import annotations

import math

import numpy as np

from ballspot.data.synthetic.config import (
    GOAL_H,
    GOAL_HALF_W,
    GRAVITY,
    N_TEAM,
    PITCH_L,
    PITCH_W,
)


class Motion:
    """Per-frame movement of :class:`ballspot.data.synthetic.simulation._Simulator`."""

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
