"""Datasets in SoccerNet layout from simulated halves: games rendered in worker processes,
encoded, labelled, with the challenge games' labels kept apart."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
from tqdm import tqdm

from ballspot.core.errors import BallspotError
from ballspot.data.encoder import VideoWriter
from ballspot.data.soccernet import Annotation, DatasetSpec, write_labels
from ballspot.data.synthetic.config import (
    ACTION_CLASSES,
    BALL_CLASSES,
    SyntheticConfig,
)
from ballspot.data.synthetic.render import Scene, make_scene, render_frames
from ballspot.data.synthetic.simulation import simulate_half
from ballspot.data.synthetic.track import Event, Track


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
