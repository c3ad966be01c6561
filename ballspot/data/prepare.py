"""The ``data`` stage: build the dataset (synthetic or official download), then verify it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ballspot.core.atomic import atomic_dir, write_json
from ballspot.core.errors import BallspotError
from ballspot.data.soccernet import DatasetSpec, load_game

SOURCES = ("synthetic", "soccernet")


def dataset_specs(params: Mapping[str, Any]) -> tuple[DatasetSpec, DatasetSpec]:
    """The ball dataset and the action dataset specs from params."""
    return (DatasetSpec.from_params(params["dataset"]),
            DatasetSpec.from_params(params["action_dataset"]))


def action_games(params: Mapping[str, Any]) -> list[str]:
    """Every game of the action dataset (train then validation)."""
    block = params["action_dataset"]
    return list(block.get("train_games", [])) + list(block.get("val_games", []))


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


def prepare_data(params: Mapping[str, Any], progress: bool = True) -> dict[str, Any]:
    """Generate or download both datasets into place atomically and verify them.

    Nothing is left half-written: everything is built in temporary folders that replace
    the outputs only once the whole dataset has been verified.
    """
    spec, action_spec = dataset_specs(params)
    data = params["data"]
    source = data.get("source")
    if source not in SOURCES:
        raise BallspotError("params.yaml", f"data.source must be one of {SOURCES}, got {source!r}")
    if action_spec.root != spec.root:
        raise BallspotError("params.yaml", "dataset.root and action_dataset.root must be equal")
    games_action = action_games(params)
    hidden = Path(data["hidden_labels"])
    with atomic_dir(spec.root) as tmp_root, atomic_dir(hidden) as tmp_hidden:
        tmp_spec, tmp_action = replace(spec, root=tmp_root), replace(action_spec, root=tmp_root)
        if source == "synthetic":
            from ballspot.data.synthetic import (
                SyntheticConfig,
                generate_action_dataset,
                generate_ball_dataset,
            )

            config = SyntheticConfig.from_params(data["synthetic"])
            workers = int(data.get("workers", 1))
            generate_ball_dataset(tmp_spec, tmp_hidden, config, progress, workers)
            generate_action_dataset(tmp_action, games_action, config, progress, workers)
        else:
            from ballspot.data.download import (
                DownloadConfig,
                download_action_dataset,
                download_ball_dataset,
            )

            config = DownloadConfig.from_params(data["download"])
            download_ball_dataset(tmp_spec, config)
            download_action_dataset(tmp_action, config)
        summary = {"source": source, **verify_dataset(tmp_spec, tmp_action, games_action,
                                                       int(data.get("workers", 1)))}
    if data.get("summary"):
        write_json(data["summary"], summary)
    return summary
