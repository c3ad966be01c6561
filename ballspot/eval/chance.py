"""Chance level: what mAP a model that knows nothing gets from the same post-processing and metric.

Ball events are dense (a few seconds apart) and the tolerance is a second wide, so peaks picked
from random scores already match many events. A score means something only above this floor.
The baseline keeps the real predictions' frames and replaces their scores with seeded uniform
noise; post-processing and the metric are the ones the real predictions go through.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ballspot.data.soccernet import DatasetSpec
from ballspot.eval.metric import score_games
from ballspot.predict.postprocess import (
    PostprocessParams,
    load_raw_predictions,
    save_raw_predictions,
    spot_games,
)

RAW_PATTERN = "*_raw_predictions.npz"
# (path relative to a predictions folder, frame indexes, score shape) per raw prediction file
Layout = list[tuple[Path, np.ndarray, tuple[int, ...]]]


def _prediction_layout(predictions_dir: Path, pattern: str) -> Layout:
    """The :data:`Layout` of the raw prediction files under ``predictions_dir``, sorted."""
    layout = []
    for path in sorted(predictions_dir.rglob(pattern)):
        indexes, raw = load_raw_predictions(path)
        layout.append((path.relative_to(predictions_dir), indexes, raw.shape))
    return layout


def _write_noise(layout: Layout, out_dir: Path, rng: np.random.Generator) -> int:
    """Write each file of ``layout`` under ``out_dir`` with uniform random scores in [0, 1)."""
    for relative, indexes, shape in layout:
        save_raw_predictions(out_dir / relative, indexes, rng.random(shape, dtype=np.float32))
    return len(layout)


def random_raw_predictions(predictions_dir: str | Path, out_dir: str | Path,
                           rng: np.random.Generator, pattern: str = RAW_PATTERN
                           ) -> int:
    """Copy the tree of raw prediction files under ``predictions_dir`` to ``out_dir`` with the
    same frame indexes and uniform random scores in [0, 1). Returns the number of files."""
    return _write_noise(_prediction_layout(Path(predictions_dir), pattern), Path(out_dir), rng)


def summarize_draws(draws: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each key over the draws, plus ``mAP_min``, ``mAP_max`` and the draw count."""
    keys = draws[0].keys()
    out = {k: float(np.mean([d[k] for d in draws])) for k in keys}
    maps = [d["mAP"] for d in draws]
    out.update(mAP_min=float(min(maps)), mAP_max=float(max(maps)), draws=len(draws))
    return out


def chance_level(spec: DatasetSpec, post: PostprocessParams, metric: str, draws: int, seed: int,
                 folders: Mapping[str | Path, Sequence[str]], labels: str | Path,
                 games: Sequence[str]) -> dict[str, float] | None:
    """Score of uniform random scores on the frames of real raw predictions, through the same
    post-processing and metric as the real ones: the mean over ``draws`` draws seeded from
    ``seed``, with its range; None when no draws are asked for.

    ``folders`` maps each folder of ``<game>/<half>_raw_predictions.npz`` to the games spotted
    from it (a fold's folder and its games, or the ensemble's folder and the challenge games);
    ``games`` are scored against the label files under ``labels``.
    """
    if draws <= 0:
        return None
    # the frames are read once; each draw only writes new scores on them
    layouts = [(_prediction_layout(Path(folder), RAW_PATTERN), spotted)
               for folder, spotted in folders.items()]
    scores = []
    with tempfile.TemporaryDirectory(prefix="ballspot-chance-") as work:
        for draw in range(draws):
            rng = np.random.default_rng([seed, draw])
            results = Path(work) / f"results_{draw}"
            for k, (layout, spotted) in enumerate(layouts):
                raw = Path(work) / f"raw_{draw}_{k}"
                _write_noise(layout, raw, rng)
                spot_games(spec, spotted, raw, results, post)
            scores.append(score_games(spec, labels, results, games, metric))
    return summarize_draws(scores)
