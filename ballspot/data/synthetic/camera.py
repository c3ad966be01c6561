"""The broadcast camera: its path after the ball (a lagging pan and zoom) and the pinhole
view that projects world points to pixels."""

from __future__ import annotations

import math

import numpy as np

from ballspot.data.synthetic.config import (
    AIM_REACH,
    PITCH_L,
    PITCH_W,
    REFEREE,
    SyntheticConfig,
)
from ballspot.data.synthetic.track import Track


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
