"""Which dataclass reads each params block: profiles accept a key the base params leave out
when that dataclass has the field (its default applies)."""

from __future__ import annotations

import dataclasses
from functools import cache

from ballspot.pipeline.schema import SHARED_BLOCK, TRAIN_STAGES

# keys a block may hold besides its dataclass's fields, and fields that come from elsewhere
EXTRA_KEYS = {("dataset",): {"train_games", "val_games"},
              ("action_dataset",): {"train_games", "val_games"}}
DERIVED_KEYS = {("model",): {"num_frames", "num_classes"}}  # from the stage and the dataset


@cache
def schemas() -> dict[tuple[str, ...], type]:
    """``{block path: dataclass}`` for every params block that a dataclass reads."""
    from ballspot.data.download import DownloadConfig
    from ballspot.data.soccernet import DatasetSpec
    from ballspot.data.synthetic import SyntheticConfig
    from ballspot.model.stacker import ModelConfig
    from ballspot.pipeline.evaluation import EvaluateConfig
    from ballspot.pipeline.prediction import PredictConfig
    from ballspot.predict.defaults import SpotDefaults
    from ballspot.predict.postprocess import PostprocessParams
    from ballspot.train.config import TrainConfig

    table: dict[tuple[str, ...], type] = {
        ("dataset",): DatasetSpec, ("action_dataset",): DatasetSpec, ("model",): ModelConfig,
        ("predict",): PredictConfig, ("postprocess",): PostprocessParams,
        ("evaluate",): EvaluateConfig, ("spot",): SpotDefaults,
        ("data", "synthetic"): SyntheticConfig, ("data", "download"): DownloadConfig,
    }
    table.update({(name,): TrainConfig for name in (SHARED_BLOCK, *TRAIN_STAGES)})
    return table


def schema_keys(where: tuple[str, ...]) -> set[str]:
    """The keys block ``where`` may hold (empty when no dataclass reads it)."""
    cls = schemas().get(where)
    if cls is None:
        return set()
    names = {f.name for f in dataclasses.fields(cls)}
    return (names | EXTRA_KEYS.get(where, set())) - DERIVED_KEYS.get(where, set())
