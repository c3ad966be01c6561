"""The DAG's steps, composed from the library: train a fold, predict games, evaluate folds.

Stage modules (``stages/``) and the CLI call these functions; paths come from their arguments.
"""

from __future__ import annotations

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


def train_fold(params: Mapping[str, Any], stage: str, fold: int, out_dir: str | Path,
               live_dir: str | Path, checkpoint_dir: str | Path, progress: bool = True
               ) -> dict[str, Any]:
    """Train stage ``stage`` (a params block) on every fold but ``fold``; validate on ``fold``."""
    from ballspot.training import TrainConfig, train_model

    spec = DatasetSpec.from_params(params["dataset"])
    config = TrainConfig.from_params(params[stage])
    train_videos = load_videos(spec, spec.train_games(fold))
    val_videos = load_videos(spec, list(spec.folds[fold]))
    return train_model(
        config, model_config(params, params[stage], len(spec.classes)), spec.classes,
        train_videos, val_videos, out_dir, checkpoint_dir, live_dir,
        extra={"stage": stage, "fold": fold}, progress=progress)


def predict_games(model_dir: str | Path, spec: DatasetSpec, games: Sequence[str],
                  out_dir: str | Path, predict: Mapping[str, Any], progress: bool = True
                  ) -> None:
    """Raw per-frame predictions ``<out_dir>/<game>/<half>_raw_predictions.npz`` of each game."""
    import torch

    from ballspot.predictor import CachedPredictor, predict_video
    from ballspot.training import load_model_dir, resolve_device
    from ballspot.video import open_fetcher

    tune_allocator()
    device = resolve_device(predict.get("device", "auto"))
    if predict.get("torch_threads"):
        torch.set_num_threads(int(predict["torch_threads"]))
    model, resolved = load_model_dir(model_dir, device)
    frames = resolved["frames"]
    size = tuple(frames["image_size"]) if frames.get("image_size") else None
    predictor = CachedPredictor(model, frames["frame_stack_size"], frames["frame_stack_step"],
                                tta=bool(predict.get("tta", True)), device=device,
                                batch_frames=int(predict.get("batch_frames", 32)), size=size)
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
    """
    from ballspot.metric import evaluate

    spec = DatasetSpec.from_params(params["dataset"])
    post = PostprocessParams.from_params(params["postprocess"])
    metric = params.get("evaluate", {}).get("metric", "at1")
    predictions_root = Path(predictions_root)
    with atomic_dir(results_dir) as tmp:
        for k, games in enumerate(spec.folds):
            spot_games(spec, games, predictions_root / f"fold_{k}", tmp, post)

        def score(games: Sequence[str]) -> dict[str, float]:
            result = evaluate(spec.task_dir, tmp, spec.classes, metric, spec.label_file,
                              RESULTS_FILE, games, spec.fps)
            return {"mAP": float(result["mAP"]),
                    **{c: float(v) for c, v in result["per_class"].items()}}

        metrics = {"cv": score(spec.labelled_games)}
        test_games = [g for k in spec.test_folds for g in spec.folds[k]]
        if test_games:
            metrics["test"] = score(test_games)
        metrics.update({f"fold_{k}": score(games) for k, games in enumerate(spec.folds)})
    write_json(metrics_path, metrics)
    return metrics
