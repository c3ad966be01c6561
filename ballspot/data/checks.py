"""Checks of a dataset on disk before anything trains on it: every video and label file opened,
every video decoded once, a summary of what is there."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ballspot.data.soccernet import DatasetSpec, load_game


def verify_dataset(
    spec: DatasetSpec, action_spec: DatasetSpec, games_action: list[str], workers: int = 1
) -> dict[str, Any]:
    """Open every video and label file the pipeline will read, decode every video once (so a
    corrupt packet stops the data stage, not a training run); summarise what is there."""
    summary: dict[str, Any] = {}
    videos: list[Path] = []
    for name, this_spec, labelled, unlabelled, any_class in (
        ("ball", spec, spec.labelled_games, list(spec.challenge), False),
        ("action", action_spec, games_action, [], True),
    ):
        events: Counter[str] = Counter()
        frames = clipped = 0
        for game in labelled + unlabelled:
            for half in load_game(this_spec, game, game in labelled, any_class):
                videos.append(half.path)
                frames += half.num_frames
                clipped += half.clipped
                events.update(a.label for a in half.annotations)
        summary[name] = {"games": len(labelled) + len(unlabelled), "labelled_games": len(labelled),
                         "frames": frames, "events": dict(sorted(events.items()))}
        if clipped:  # labels past the end of their video, moved onto its last frame
            summary[name]["clipped_labels"] = clipped
    decode_all(videos, spec.fps, workers)
    return summary


def decode_all(videos: list[Path], fps: float, workers: int) -> None:
    """:func:`ballspot.data.video.check_decodes` on every video, ``workers`` at a time; the
    first corrupt one is the one-line error."""
    from ballspot.data.video import check_decodes

    if workers <= 1 or len(videos) <= 1:
        for path in videos:
            check_decodes(path, fps)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(workers, len(videos)), mp_context=context) as pool:
        for _ in pool.map(check_decodes, videos, [fps] * len(videos)):
            pass
