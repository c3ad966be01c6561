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
