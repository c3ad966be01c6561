"""The DAG's steps, composed from the library: train a fold, predict games, evaluate folds.

Stage modules (``stages/``) and the CLI call these functions; paths come from their arguments.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ballspot.allocator import tune_allocator
from ballspot.atomic import atomic_dir, write_json
from ballspot.model import ModelConfig
from ballspot.postprocess import (
    PostprocessParams,
    load_raw_predictions,
    postprocess,
    predictions_to_results,
    save_raw_predictions,
    write_results,
)
from ballspot.soccernet import DatasetSpec, HalfVideo, load_game

RAW_PREDICTIONS = "{half}_raw_predictions.npz"
RESULTS_FILE = "results_spotting.json"
CARD = "Card"
CARD_LABELS = ("Yellow card", "Red card", "Yellow->red card")


def load_videos(spec: DatasetSpec, games: Sequence[str], labelled: bool = True
                ) -> list[HalfVideo]:
    """Every half of ``games``, checked (videos probed, labels validated)."""
    return [half for game in games for half in load_game(spec, game, labelled)]


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

    ``fold`` None trains the action pre-training stage on ``action_dataset`` (§8.8). ``init`` is a
    model directory to start from (tensors whose shape differs keep their fresh initialisation,
    §7.6); ``oof`` a folder of ``fold_<k>/<game>/<half>_raw_predictions.npz`` out-of-fold
    predictions that steer hard-negative sampling (§4.4 step 4).
    """
    from ballspot.training import TrainConfig, load_model_dir, train_model

    config = TrainConfig.from_params(params[stage])
    if fold is None:
        spec = DatasetSpec.from_params(params["action_dataset"])
        train_videos = load_action_videos(spec, params["action_dataset"]["train_games"])
        val_videos = load_action_videos(spec, params["action_dataset"]["val_games"])
        classes = action_classes(spec.classes)
    else:
        spec = DatasetSpec.from_params(params["dataset"])
        train_videos = load_videos(spec, spec.train_games(fold))
        val_videos = load_videos(spec, list(spec.folds[fold]))
        classes = list(spec.classes)
    if config.action_weights == "effective_number":
        from collections import Counter

        from ballspot.sampling import effective_number_weights

        counts = Counter(a.label for v in train_videos for a in v.annotations)
        config = dataclasses.replace(config, action_weights=effective_number_weights(
            {c: counts.get(c, 0) for c in classes}, config.action_weights_beta))
    init_weights = None
    if init is not None:
        init_weights = load_model_dir(init)[0].state_dict()
    predictions = None if oof is None else oof_predictions(spec, train_videos, oof)
    return train_model(
        config, model_config(params, params[stage], len(classes)), classes,
        train_videos, val_videos, out_dir, checkpoint_dir, live_dir, init_weights=init_weights,
        sampling_predictions=predictions,
        extra={"stage": stage, "fold": fold, "init": None if init is None else str(init),
               "oof": None if oof is None else str(oof)},
        progress=progress)


def action_classes(classes: Sequence[str]) -> list[str]:
    """Training classes of the action task: the three card labels become one ``Card`` (§1.5)."""
    merged: list[str] = []
    for name in classes:
        name = CARD if name in CARD_LABELS else name
        if name not in merged:
            merged.append(name)
    return merged


def load_action_videos(spec: DatasetSpec, games: Sequence[str]) -> list[HalfVideo]:
    """Halves of action-dataset games with their visible annotations of ``spec.classes`` only,
    card labels merged into ``Card`` (grayscale cannot tell the colours apart, §1.5)."""
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
    from ballspot.errors import BallspotError

    found = []
    for video in videos:
        try:
            fold = spec.fold_of(video.game)
        except KeyError:
            raise BallspotError(oof, f"game {video.game!r} is in no fold") from None
        found.append(load_raw_predictions(Path(oof) / f"fold_{fold}" / video.game
                                          / RAW_PREDICTIONS.format(half=video.half)))
    return found


def predict_games(model_dir: str | Path, spec: DatasetSpec, games: Sequence[str],
                  out_dir: str | Path, predict: Mapping[str, Any], progress: bool = True
                  ) -> None:
    """Raw per-frame predictions ``<out_dir>/<game>/<half>_raw_predictions.npz`` of each game."""
    import torch

    from ballspot.predictor import CachedPredictor, predict_video
    from ballspot.training import resolve_device
    from ballspot.video import open_fetcher

    tune_allocator()
    device = resolve_device(predict.get("device", "auto"))
    if predict.get("torch_threads"):
        torch.set_num_threads(int(predict["torch_threads"]))
    predictor, _ = CachedPredictor.from_model_dir(
        model_dir, device, tta=bool(predict.get("tta", True)),
        batch_frames=int(predict.get("batch_frames", 32)))
    halves = load_videos(spec, games, labelled=False)
    with atomic_dir(out_dir) as tmp:
        for half in halves:
            with open_fetcher(half.path, predict.get("decode_backend", "auto")) as fetcher:
                frames_iter = tqdm(fetcher.iter_frames(), total=fetcher.num_frames,
                                   desc=f"{Path(half.game).name} half {half.half}",
                                   disable=not progress, leave=False, file=sys.stderr,
                                   unit="frame")
                indexes, raw = predict_video(predictor, frames_iter, fetcher.num_frames,
                                             half.path)
            save_raw_predictions(tmp / half.game / RAW_PREDICTIONS.format(half=half.half),
                                 indexes, raw)


def spot_games(spec: DatasetSpec, games: Sequence[str], predictions_dir: Path,
               results_dir: Path, post: PostprocessParams) -> None:
    """Post-process raw predictions into ``<results_dir>/<game>/results_spotting.json``."""
    for game in games:
        per_half = {}
        for half in spec.halves:
            indexes, raw = load_raw_predictions(
                predictions_dir / game / RAW_PREDICTIONS.format(half=half))
            per_half[half] = postprocess(indexes, raw, post)
        write_results(results_dir / game / RESULTS_FILE,
                      predictions_to_results(game, per_half, spec.classes, spec.fps))


def evaluate_folds(params: Mapping[str, Any], predictions_root: str | Path,
                   results_dir: str | Path, metrics_path: str | Path) -> dict[str, Any]:
    """Post-process every fold's out-of-fold predictions and score them (per fold, CV, test).

    ``predictions_root`` holds ``fold_<k>/<game>/<half>_raw_predictions.npz``. CV pools every
    labelled game in one SoccerNet evaluation; test pools the games of ``dataset.test_folds``.
    ``chance`` is the CV score of random scores on the same frames
    (:func:`ballspot.baseline.chance_level`), when ``evaluate.chance_draws`` asks for it.
    """
    from ballspot.baseline import chance_level

    spec = DatasetSpec.from_params(params["dataset"])
    post = PostprocessParams.from_params(params["postprocess"])
    metric = params.get("evaluate", {}).get("metric", "at1")
    predictions_root = Path(predictions_root)
    with atomic_dir(results_dir) as tmp:
        for k, games in enumerate(spec.folds):
            spot_games(spec, games, predictions_root / f"fold_{k}", tmp, post)

        def score(games: Sequence[str]) -> dict[str, float]:
            return score_games(spec, spec.task_dir, tmp, games, metric)

        metrics = {"cv": score(spec.labelled_games)}
        test_games = [g for k in spec.test_folds for g in spec.folds[k]]
        if test_games:
            metrics["test"] = score(test_games)
        metrics.update({f"fold_{k}": score(games) for k, games in enumerate(spec.folds)})
    chance = chance_level(params, {predictions_root / f"fold_{k}": games
                                   for k, games in enumerate(spec.folds)},
                          spec.task_dir, spec.labelled_games)
    if chance is not None:
        metrics["chance"] = chance
    write_json(metrics_path, metrics)
    return metrics


def score_games(spec: DatasetSpec, labels: str | Path, predictions: str | Path,
                games: Sequence[str], metric: str = "at1") -> dict[str, float]:
    """``{"mAP": ..., <class>: AP}`` of ``games``' ``results_spotting.json`` in ``predictions``
    (a folder or a submission zip) against the label files under ``labels``."""
    from ballspot.metric import evaluate

    result = evaluate(labels, predictions, spec.classes, metric, spec.label_file, RESULTS_FILE,
                      games, spec.fps)
    return {"mAP": float(result["mAP"]),
            **{c: float(v) for c, v in result["per_class"].items()}}
