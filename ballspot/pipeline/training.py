"""The DAG's training steps: one fold of a training stage (S1, S3, S4) or the action
pre-training (S2), from the params file to a model folder.

Reads the params layout (the ``dataset``, ``action_dataset``, ``model`` and stage blocks) and
hands plain values to :func:`ballspot.train.loop.train_model`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ballspot.core.errors import BallspotError
from ballspot.core.formats import RAW_PREDICTIONS
from ballspot.data.soccernet import DatasetSpec, HalfVideo, load_game, load_games
from ballspot.model.stacker import ModelConfig
from ballspot.pipeline.schema import stage_values
from ballspot.predict.postprocess import load_raw_predictions
from ballspot.train.config import TrainConfig

CARD = "Card"
CARD_LABELS = ("Yellow card", "Red card", "Yellow->red card")


def stage_config(params: Mapping[str, Any], stage: str, source: str | Path = "params.yaml"
                 ) -> TrainConfig:
    """:class:`TrainConfig` of a training stage (see :func:`stage_values`)."""
    return TrainConfig.from_params(stage_values(params, stage), str(source))


def model_config(params: Mapping[str, Any], stage: Mapping[str, Any], num_classes: int
                 ) -> ModelConfig:
    """The stacker's config: the ``model`` block, with frames and classes of the stage."""
    return ModelConfig.from_params({**params["model"], "num_classes": num_classes,
                                    "num_frames": int(stage.get("frame_stack_size", 15))},
                                   "params.yaml")


def train_fold(params: Mapping[str, Any], stage: str, fold: int | None, out_dir: str | Path,
               live_dir: str | Path, checkpoint_dir: str | Path, init: str | Path | None = None,
               oof: str | Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Train stage ``stage`` (a params block) on every fold but ``fold``; validate on ``fold``.

    ``fold`` None trains the action pre-training stage on ``action_dataset`` (original:
    lRomul/ball-action-spotting@9c47153 scripts/action/train.py:43-160). ``init`` is a model
    directory to start from (tensors whose shape differs keep their fresh initialisation, as in
    the original's src/utils.py:67-83); ``oof`` a folder of
    ``fold_<k>/<game>/<half>_raw_predictions.npz`` out-of-fold predictions that steer
    hard-negative sampling (original: src/ball_action/annotations.py:139-159).
    """
    from ballspot.model.folder import load_model_dir
    from ballspot.train.loop import train_model

    config = stage_config(params, stage)
    if fold is None:
        spec = DatasetSpec.from_params(params["action_dataset"])
        train_videos = load_action_videos(spec, params["action_dataset"]["train_games"])
        val_videos = load_action_videos(spec, params["action_dataset"]["val_games"])
        classes = action_classes(spec.classes)
    else:
        spec = DatasetSpec.from_params(params["dataset"])
        train_videos = load_games(spec, spec.train_games(fold))
        val_videos = load_games(spec, list(spec.folds[fold]))
        classes = list(spec.classes)
    if config.action_weights == "effective_number":
        from collections import Counter

        from ballspot.train.sampling import effective_number_weights

        counts = Counter(a.label for v in train_videos for a in v.annotations)
        config = dataclasses.replace(config, action_weights=effective_number_weights(
            {c: counts.get(c, 0) for c in classes}, config.action_weights_beta))
    init_weights = None
    if init is not None:
        init_weights = load_model_dir(init)[0].state_dict()
    predictions = None if oof is None else oof_predictions(spec, train_videos, oof)
    return train_model(
        config, model_config(params, stage_values(params, stage), len(classes)), classes,
        train_videos, val_videos, out_dir, checkpoint_dir, live_dir, init_weights=init_weights,
        sampling_predictions=predictions,
        extra={"stage": stage, "fold": fold, "init": None if init is None else str(init),
               "oof": None if oof is None else str(oof)},
        progress=progress)


def action_classes(classes: Sequence[str]) -> list[str]:
    """Training classes of the action task: the three card labels become one ``Card``.

    As in the original: src/action/annotations.py:49-52, src/action/constants.py:71-77.
    """
    merged: list[str] = []
    for name in classes:
        name = CARD if name in CARD_LABELS else name
        if name not in merged:
            merged.append(name)
    return merged


def load_action_videos(spec: DatasetSpec, games: Sequence[str]) -> list[HalfVideo]:
    """Halves of action-dataset games with their visible annotations of ``spec.classes`` only,
    card labels merged into ``Card`` (grayscale cannot tell the colours apart; original:
    README.md:84, src/action/annotations.py:43-52)."""
    keep = set(spec.classes)
    halves = []
    for game in games:
        for half in load_game(spec, game, labelled=True, any_class=True):
            own = [dataclasses.replace(a, label=CARD if a.label in CARD_LABELS else a.label)
                   for a in half.annotations if a.visibility == "visible" and a.label in keep]
            halves.append(dataclasses.replace(half, annotations=own))
    return halves


def oof_predictions(spec: DatasetSpec, videos: Sequence[HalfVideo], oof: str | Path
                    ) -> list[tuple[Any, Any]]:
    """Each training half's out-of-fold raw predictions, from the fold that held its game out."""
    found = []
    for video in videos:
        try:
            fold = spec.fold_of(video.game)
        except KeyError:
            raise BallspotError(oof, f"game {video.game!r} is in no fold") from None
        found.append(load_raw_predictions(Path(oof) / f"fold_{fold}" / video.game
                                          / RAW_PREDICTIONS.format(half=video.half)))
    return found
