"""Frames of a simulated half: the pitch, stands, players and ball through the camera view,
then blur and sensor noise."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from ballspot.data.synthetic.camera import _View
from ballspot.data.synthetic.config import (
    _KITS,
    BALL_R,
    GOAL_H,
    GOAL_HALF_W,
    N_TEAM,
    PITCH_L,
    PITCH_W,
    PLAYER_H,
    REFEREE,
    WALL_Y,
    SyntheticConfig,
    _stable_seed,
)
from ballspot.data.synthetic.track import Track


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


# the cue's corner per label (top left, top right; any other label bottom left)
_CUE_CORNERS = {"PASS": (0, 0), "DRIVE": (1, 0)}


def _draw_cue(img: np.ndarray, track: Track, frame: int, frames: int) -> None:
    """The drawn-cue control: a white square in a label's corner while an event is under
    ``frames`` frames old, so that a run on such games shows what the recipe learns when the
    signal is trivial to see."""
    height, width = img.shape[:2]
    side = max(4, height // 6)
    for ev in track.events:
        if ev.frame <= frame < ev.frame + frames:
            cu, cv = _CUE_CORNERS.get(ev.label, (0, 1))
            u, v = cu * (width - side), cv * (height - side)
            img[v:v + side, u:u + side] = 255


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
    if config.cue_frames > 0:
        _draw_cue(img, track, frame, config.cue_frames)
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
