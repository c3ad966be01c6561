"""The DAG's data step: build the datasets that the params name (synthetic or the official
download) into place atomically, then check them (:mod:`ballspot.data.checks`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ballspot.core.atomic import atomic_dir, write_json
from ballspot.core.errors import BallspotError
from ballspot.data.checks import verify_dataset
from ballspot.data.soccernet import DatasetSpec

SOURCES = ("synthetic", "soccernet")


def dataset_specs(params: Mapping[str, Any]) -> tuple[DatasetSpec, DatasetSpec]:
    """The ball dataset and the action dataset specs from params."""
    return (DatasetSpec.from_params(params["dataset"]),
            DatasetSpec.from_params(params["action_dataset"]))


def action_games(params: Mapping[str, Any]) -> list[str]:
    """Every game of the action dataset (train then validation)."""
    block = params["action_dataset"]
    return list(block.get("train_games", [])) + list(block.get("val_games", []))


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
    workers = int(data.get("workers", 1))
    if source == "soccernet":
        summary = _download(spec, action_spec, games_action, data, hidden, workers)
    else:
        with atomic_dir(spec.root) as tmp_root, atomic_dir(hidden) as tmp_hidden:
            from ballspot.data.synthetic import (
                SyntheticConfig,
                generate_action_dataset,
                generate_ball_dataset,
            )

            tmp_spec, tmp_action = replace(spec, root=tmp_root), replace(action_spec, root=tmp_root)
            config = SyntheticConfig.from_params(data["synthetic"])
            generate_ball_dataset(tmp_spec, tmp_hidden, config, progress, workers)
            generate_action_dataset(tmp_action, games_action, config, progress, workers)
            summary = {"source": source, **verify_dataset(tmp_spec, tmp_action, games_action,
                                                           workers)}
    if data.get("summary"):
        write_json(data["summary"], summary)
    return summary


def _download(spec: DatasetSpec, action_spec: DatasetSpec, games_action: list[str],
              data: Mapping[str, Any], hidden: Path, workers: int) -> dict[str, Any]:
    """The official data: fetched into the download folder beside the dataset root (which keeps
    every checked file across failed runs), decoded there, then moved into place at once."""
    import shutil

    from ballspot.data.download import (
        DownloadConfig,
        download_action_dataset,
        download_ball_dataset,
        forget_bad_file,
    )

    config = DownloadConfig.from_params(data["download"])
    action_task = config.action_task_dir or action_spec.task
    keep = download_ball_dataset(spec, config)
    download_action_dataset(action_spec, config, keep=keep)
    kept_spec, kept_action = replace(spec, root=keep), replace(action_spec, root=keep)
    try:
        summary = {"source": "soccernet",
                   **verify_dataset(kept_spec, kept_action, games_action, workers)}
    except BallspotError as exc:
        raise forget_bad_file(exc, keep, spec.root) from None
    with atomic_dir(spec.root) as tmp_root, atomic_dir(hidden):
        for task in dict.fromkeys((spec.task, action_task)):
            if (keep / task).is_dir():
                (keep / task).rename(tmp_root / task)
    shutil.rmtree(keep, ignore_errors=True)
    return summary
