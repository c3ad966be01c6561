"""The DAG's prediction step: a model folder's raw per-frame predictions of dataset games."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ballspot.core.allocator import tune_allocator
from ballspot.core.atomic import atomic_dir
from ballspot.core.formats import RAW_PREDICTIONS
from ballspot.data.soccernet import DatasetSpec, load_games
from ballspot.pipeline.schema import from_block
from ballspot.predict.postprocess import save_raw_predictions


@dataclass(frozen=True)
class PredictConfig:
    """The ``predict`` block: where and how the caching predictor runs."""

    device: str = "auto"
    tta: bool = False  # horizontal-flip test-time augmentation (the paper's: on; 2x the cost)
    batch_frames: int = 32
    centre_step: int = 1  # run every k-th centre, interpolate between (1: every frame)
    decode_backend: str = "auto"
    torch_threads: int | None = None

    @classmethod
    def from_params(cls, values: Mapping[str, Any] | None, source: str | Path = "params.yaml"
                    ) -> PredictConfig:
        return from_block(cls, ("predict",), values, source)


def predict_games(model_dir: str | Path, spec: DatasetSpec, games: Sequence[str],
                  out_dir: str | Path, predict: Mapping[str, Any], progress: bool = True
                  ) -> None:
    """Raw per-frame predictions ``<out_dir>/<game>/<half>_raw_predictions.npz`` of each game."""
    import torch

    from ballspot.core.device import resolve_device
    from ballspot.data.video import open_fetcher
    from ballspot.predict.predictor import CachedPredictor, predict_video

    config = PredictConfig.from_params(predict)
    tune_allocator()
    device = resolve_device(config.device)
    if config.torch_threads:
        torch.set_num_threads(int(config.torch_threads))
    predictor, _ = CachedPredictor.from_model_dir(
        model_dir, device, tta=bool(config.tta), batch_frames=int(config.batch_frames),
        centre_step=int(config.centre_step))
    halves = load_games(spec, games, labelled=False)
    with atomic_dir(out_dir) as tmp:
        for half in halves:
            with open_fetcher(half.path, config.decode_backend) as fetcher:
                frames_iter = tqdm(fetcher.iter_frames(), total=fetcher.num_frames,
                                   desc=f"{Path(half.game).name} half {half.half}",
                                   disable=not progress, leave=False, file=sys.stderr,
                                   unit="frame")
                indexes, raw = predict_video(predictor, frames_iter, fetcher.num_frames,
                                             half.path)
            save_raw_predictions(tmp / half.game / RAW_PREDICTIONS.format(half=half.half),
                                 indexes, raw)
