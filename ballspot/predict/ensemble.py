"""Ensembling fold models (original: lRomul/ball-action-spotting@9c47153
scripts/ball_action/ensemble.py:18-35) and the challenge submission zip.

The ensemble of a game is the per-frame mean of every fold model's raw predictions (coverage
weighted, see :func:`ballspot.predict.postprocess.blend_raw_predictions`), post-processed once.
The zip holds ``<league>/<season>/<game>/results_spotting.json`` for each game, as the SoccerNet
evaluation server expects it.
"""

from __future__ import annotations

import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from ballspot.core.atomic import atomic_dir, atomic_path
from ballspot.core.errors import BallspotError
from ballspot.core.formats import RAW_PREDICTIONS, RESULTS_FILE
from ballspot.data.soccernet import DatasetSpec
from ballspot.predict.postprocess import (
    PostprocessParams,
    blend_raw_predictions,
    load_raw_predictions,
    save_raw_predictions,
    spot_games,
)


def model_folders(root: str | Path, num_folds: int | None = None) -> list[Path]:
    """The ``fold_<k>`` folders under ``root``, in fold order; an error if there is none.

    With ``num_folds`` (the number of folds params name), exactly ``fold_0`` ..
    ``fold_<num_folds - 1>``: a missing one is an error, and any other ``fold_*`` folder, left by
    a fold that params no longer name (DVC keeps a removed stage's outputs), is skipped with a
    notice instead of joining the ensemble.
    """
    root = Path(root)
    found = sorted((p for p in root.glob("fold_*") if p.is_dir()),
                   key=lambda p: (len(p.name), p.name))
    if num_folds is None:
        if not found:
            raise BallspotError(root, "no fold_<k> folders to ensemble")
        return found
    wanted = [root / f"fold_{k}" for k in range(num_folds)]
    missing = [p.name for p in wanted if not p.is_dir()]
    if missing:
        raise BallspotError(root, f"no {', '.join(missing)} folder for the {num_folds} folds "
                                  f"of dataset.folds")
    stale = [p.name for p in found if p not in wanted]
    if stale:
        print(f"ensemble: notice: skipping {', '.join(stale)} in {root}: not one of the "
              f"{num_folds} folds of dataset.folds", file=sys.stderr)
    return wanted


def ensemble_games(spec: DatasetSpec, fold_dirs: Sequence[str | Path], games: Sequence[str],
                   out_dir: str | Path, post: PostprocessParams) -> None:
    """Blend every fold's predictions of ``games`` into ``out_dir/<game>/``.

    Writes the blended ``<half>_raw_predictions.npz`` and the post-processed
    ``results_spotting.json`` of each game; the folder appears whole or not at all.
    """
    with atomic_dir(out_dir) as tmp:
        for game in games:
            for half in spec.halves:
                name = RAW_PREDICTIONS.format(half=half)
                save_raw_predictions(tmp / game / name, *blend_raw_predictions(
                    [load_raw_predictions(Path(d) / game / name) for d in fold_dirs]))
        spot_games(spec, games, tmp, tmp, post)


def write_submission(results_dir: str | Path, games: Sequence[str], zip_path: str | Path
                     ) -> list[str]:
    """Zip ``<game>/results_spotting.json`` of each game; returns the archive's member names."""
    results_dir = Path(results_dir)
    names = []
    with (atomic_path(zip_path, ".zip") as tmp,
          zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf):
        for game in games:
            source = results_dir / game / RESULTS_FILE
            if not source.is_file():
                raise BallspotError(source, "results file not found")
            name = f"{game}/{RESULTS_FILE}"
            # fixed timestamp and mode: the same results give a byte-identical zip
            info = zipfile.ZipInfo(name, date_time=(2023, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, source.read_bytes())
            names.append(name)
    return names

