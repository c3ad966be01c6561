"""The DAG's evaluation steps: out-of-fold scores per stage and the challenge score, each
beside its chance level (random scores on the same frames)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ballspot.core.atomic import atomic_dir, write_json
from ballspot.data.soccernet import DatasetSpec
from ballspot.eval.chance import chance_level
from ballspot.eval.metric import score_games
from ballspot.pipeline.schema import from_block
from ballspot.predict.postprocess import PostprocessParams, spot_games


@dataclass(frozen=True)
class EvaluateConfig:
    """The ``evaluate`` block: which SoccerNet metric, and how many chance-level draws."""

    metric: str = "at1"
    chance_draws: int = 10  # CV mAP of random scores on the same frames (the floor); 0: skip
    chance_seed: int = 0

    @classmethod
    def from_params(cls, values: Mapping[str, Any] | None, source: str | Path = "params.yaml"
                    ) -> EvaluateConfig:
        return from_block(cls, ("evaluate",), values, source)

    def chance(self, spec: DatasetSpec, post: PostprocessParams,
               folders: Mapping[str | Path, Sequence[str]], labels: str | Path,
               games: Sequence[str]) -> dict[str, float] | None:
        """The chance level of ``games`` spotted from ``folders`` (None when no draws)."""
        return chance_level(spec, post, self.metric, int(self.chance_draws),
                            int(self.chance_seed), folders, labels, games)


def evaluate_folds(params: Mapping[str, Any], predictions_root: str | Path,
                   results_dir: str | Path, metrics_path: str | Path) -> dict[str, Any]:
    """Post-process every fold's out-of-fold predictions and score them (per fold, CV, test).

    ``predictions_root`` holds ``fold_<k>/<game>/<half>_raw_predictions.npz``. CV pools every
    labelled game in one SoccerNet evaluation; test pools the games of ``dataset.test_folds``.
    ``chance`` is the CV score of random scores on the same frames
    (:func:`ballspot.eval.chance.chance_level`), when ``evaluate.chance_draws`` asks for it.
    """
    spec = DatasetSpec.from_params(params["dataset"])
    post = PostprocessParams.from_params(params["postprocess"])
    settings = EvaluateConfig.from_params(params.get("evaluate"))
    metric = settings.metric
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
    chance = settings.chance(spec, post, {predictions_root / f"fold_{k}": games
                                          for k, games in enumerate(spec.folds)},
                             spec.task_dir, spec.labelled_games)
    if chance is not None:
        metrics["chance"] = chance
    write_json(metrics_path, metrics)
    return metrics


def score_challenge(params: Mapping[str, Any], labels: str | Path, submission: str | Path,
                    predictions: str | Path | None, metrics_path: str | Path
                    ) -> tuple[dict[str, Any], int]:
    """Score the submission zip on the challenge games whose hidden labels are under ``labels``
    (the synthetic default keeps them there; real challenge games are scored by the server),
    with the chance level on the frames of the ensemble's raw ``predictions``. Returns the
    metrics and the number of games scored."""
    spec = DatasetSpec.from_params(params["dataset"])
    labelled = [g for g in spec.challenge if (Path(labels) / g / spec.label_file).is_file()]
    if not labelled:
        metrics: dict[str, Any] = {"challenge": {"scored": False}}
        write_json(metrics_path, metrics)
        return metrics, 0
    settings = EvaluateConfig.from_params(params.get("evaluate"))
    metrics = {"challenge": score_games(spec, labels, submission, labelled, settings.metric)}
    if predictions is not None:
        post = PostprocessParams.from_params(params["postprocess"])
        chance = settings.chance(spec, post, {predictions: labelled}, labels, labelled)
        if chance is not None:
            metrics["chance"] = chance
    write_json(metrics_path, metrics)
    return metrics, len(labelled)
