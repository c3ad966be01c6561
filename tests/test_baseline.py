"""The chance level beside the OOF scores: random scores on the same frames and post-processing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ballspot.data.soccernet import Annotation, DatasetSpec, write_labels
from ballspot.eval.chance import random_raw_predictions
from ballspot.pipeline.evaluation import EvaluateConfig, evaluate_folds
from ballspot.predict.postprocess import (
    PostprocessParams,
    load_raw_predictions,
    save_raw_predictions,
)

GAMES = ["england_efl/2019-2020/2019-10-01 - A - B", "england_efl/2019-2020/2019-10-02 - C - D"]
EVENTS = [(40, "PASS"), (160, "DRIVE"), (300, "PASS"), (420, "PASS"), (530, "DRIVE")]


def _params(tmp_path: Path, draws: int, seed: int = 7) -> dict:
    dataset = {"root": str(tmp_path / "soccernet"), "task": "spotting-ball-2023",
               "label_file": "Labels-ball.json", "classes": ["PASS", "DRIVE"], "halves": [1, 2],
               "resolution": "720p", "folds": {"0": [GAMES[0]], "1": [GAMES[1]]},
               "test_folds": [1]}
    return {"dataset": dataset,
            "postprocess": {"gauss_sigma": 3.0, "height": 0.2, "distance": 15},
            "evaluate": {"metric": "at1", "chance_draws": draws, "chance_seed": seed}}


def _chance(params: dict, folds: dict, labels: Path, games: list[str]) -> dict | None:
    spec = DatasetSpec.from_params(params["dataset"])
    post = PostprocessParams.from_params(params["postprocess"])
    return EvaluateConfig.from_params(params["evaluate"]).chance(spec, post, folds, labels, games)


def _perfect_predictions(tmp_path: Path) -> Path:
    """Labels of both games, and raw predictions that fire on exactly the labelled frames."""
    spec = DatasetSpec.from_params(_params(tmp_path, 0)["dataset"])
    root = tmp_path / "predictions"
    for k, game in enumerate(GAMES):
        write_labels(spec.task_dir / game / "Labels-ball.json", game,
                     [Annotation(h, f, c) for h in (1, 2) for f, c in EVENTS])
        for half in (1, 2):
            raw = np.zeros((600, 2), np.float32)
            for frame, label in EVENTS:
                raw[frame, spec.classes.index(label)] = 3.0  # a peak after smoothing
            save_raw_predictions(root / f"fold_{k}" / game / f"{half}_raw_predictions.npz",
                                 np.arange(600), raw)
    return root


def test_random_predictions_keep_the_frames_and_follow_the_seed(tmp_path: Path) -> None:
    root = _perfect_predictions(tmp_path)
    assert random_raw_predictions(root, tmp_path / "a", np.random.default_rng(1)) == 4
    random_raw_predictions(root, tmp_path / "b", np.random.default_rng(1))
    random_raw_predictions(root, tmp_path / "c", np.random.default_rng(2))
    name = Path("fold_1") / GAMES[1] / "2_raw_predictions.npz"
    frames, real = load_raw_predictions(root / name)
    a_frames, a = load_raw_predictions(tmp_path / "a" / name)
    _, b = load_raw_predictions(tmp_path / "b" / name)
    _, c = load_raw_predictions(tmp_path / "c" / name)
    assert np.array_equal(a_frames, frames) and a.shape == real.shape
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.min() >= 0.0 and a.max() < 1.0 and 0.4 < a.mean() < 0.6


def test_the_chance_level_sits_far_below_a_perfect_model_and_is_reproducible(
        tmp_path: Path) -> None:
    root = _perfect_predictions(tmp_path)
    params = _params(tmp_path, draws=4)
    metrics = evaluate_folds(params, root, tmp_path / "results", tmp_path / "oof.json")
    assert metrics["cv"] == {"mAP": 1.0, "PASS": 1.0, "DRIVE": 1.0}
    spec = DatasetSpec.from_params(params["dataset"])
    folds = {root / "fold_0": [GAMES[0]], root / "fold_1": [GAMES[1]]}
    chance = _chance(params, folds, spec.task_dir, GAMES)
    assert chance["draws"] == 4 and set(chance) >= {"mAP", "PASS", "DRIVE", "mAP_min", "mAP_max"}
    assert 0.0 < chance["mAP_min"] <= chance["mAP"] <= chance["mAP_max"] < 0.9
    assert _chance(params, folds, spec.task_dir, GAMES) == chance == metrics["chance"]
    assert _chance(_params(tmp_path, 0), folds, spec.task_dir, GAMES) is None
    assert _chance(_params(tmp_path, 4, seed=8), folds, spec.task_dir, GAMES) != chance
    one = _chance(params, {root / "fold_1": [GAMES[1]]}, spec.task_dir, [GAMES[1]])
    assert one["draws"] == 4 and 0.0 < one["mAP"] < 0.9
    # the random trees live in a temporary folder: nothing new beside the real results
    assert sorted(p.name for p in tmp_path.iterdir()) == ["oof.json", "predictions", "results",
                                                          "soccernet"]
