"""Fold ensemble (original: lRomul/ball-action-spotting@9c47153
scripts/ball_action/ensemble.py:18-35), the submission zip layout, and scoring a zip against
hidden labels."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ballspot.core.errors import BallspotError
from ballspot.data.soccernet import Annotation, DatasetSpec, write_labels
from ballspot.eval.metric import score_games
from ballspot.predict.ensemble import model_folders, write_submission
from ballspot.predict.postprocess import (
    PostprocessParams,
    load_raw_predictions,
    save_raw_predictions,
)

GAMES = ["england_efl/2019-2020/2019-10-01 - A - B", "england_efl/2019-2020/2019-10-02 - C - D"]


def _spec(tmp_path: Path) -> DatasetSpec:
    return DatasetSpec.from_params({
        "root": str(tmp_path / "soccernet"), "task": "spotting-ball-2023",
        "label_file": "Labels-ball.json", "classes": ["PASS", "DRIVE"], "halves": [1, 2],
        "resolution": "720p", "challenge": GAMES})


def _fold_predictions(root: Path, fold: int, bump: dict[int, float]) -> None:
    for game in GAMES:
        for half in (1, 2):
            raw = np.full((200, 2), 0.02, np.float32)
            for frame, value in bump.items():
                raw[frame - 10, 0] = value
            save_raw_predictions(root / f"fold_{fold}" / game / f"{half}_raw_predictions.npz",
                                 np.arange(10, 210), raw)


@pytest.fixture()
def ensembled(tmp_path: Path) -> tuple[DatasetSpec, Path]:
    from ballspot.predict.ensemble import ensemble_games

    spec = _spec(tmp_path)
    predictions = tmp_path / "challenge"
    # every fold model sees the action at frame 50; only fold 0 fires at 150
    _fold_predictions(predictions, 0, {50: 3.0, 150: 3.0})
    _fold_predictions(predictions, 1, {50: 3.0})
    _fold_predictions(predictions, 2, {50: 3.0})
    ensemble_games(spec, model_folders(predictions), GAMES, tmp_path / "ensemble",
                   PostprocessParams(gauss_sigma=3.0, height=0.2, distance=15))
    return spec, tmp_path / "ensemble"


def test_ensemble_is_the_mean_of_the_fold_models(ensembled: tuple[DatasetSpec, Path]) -> None:
    _, out = ensembled
    frames, raw = load_raw_predictions(out / GAMES[0] / "1_raw_predictions.npz")
    assert frames[0] == 10 and len(frames) == 200
    assert raw[50 - 10, 0] == pytest.approx(3.0)
    assert raw[150 - 10, 0] == pytest.approx((3.0 + 0.02 + 0.02) / 3)
    results = json.loads((out / GAMES[0] / "results_spotting.json").read_text())
    spotted = {(p["half"], p["position"], p["label"]) for p in results["predictions"]}
    # the lone fold's spike, diluted 3 times, falls under the peak threshold
    assert spotted == {("1", "2000", "PASS"), ("2", "2000", "PASS")}


def test_submission_zip_has_the_server_layout_and_is_reproducible(
        ensembled: tuple[DatasetSpec, Path], tmp_path: Path) -> None:
    _, out = ensembled
    names = write_submission(out, GAMES, tmp_path / "a.zip")
    write_submission(out, GAMES, tmp_path / "b.zip")
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        assert zf.namelist() == [f"{g}/results_spotting.json" for g in GAMES] == names
        assert all(len(Path(n).parts) == 4 for n in zf.namelist())
        assert json.loads(zf.read(names[0]))["UrlLocal"] == GAMES[0]
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    with pytest.raises(BallspotError, match="results file not found"):
        write_submission(out, [*GAMES, "x/y/z"], tmp_path / "c.zip")
    assert not (tmp_path / "c.zip").exists()


def test_the_zip_scores_against_hidden_labels(ensembled: tuple[DatasetSpec, Path],
                                             tmp_path: Path) -> None:
    spec, out = ensembled
    write_submission(out, GAMES, tmp_path / "s.zip")
    hidden = tmp_path / "hidden"
    for game in GAMES:
        write_labels(hidden / game / "Labels-ball.json", game,
                     [Annotation(1, 50, "PASS"), Annotation(2, 51, "PASS")])
    assert score_games(spec, hidden, tmp_path / "s.zip", GAMES)["PASS"] == 1.0
    for game in GAMES:  # moved 1 s away: outside the ±0.5 s window of mAP@1
        write_labels(hidden / game / "Labels-ball.json", game,
                     [Annotation(1, 75, "PASS"), Annotation(2, 76, "PASS")])
    assert score_games(spec, hidden, tmp_path / "s.zip", GAMES)["PASS"] == 0.0


def test_no_fold_folders_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(BallspotError, match="no fold_<k> folders"):
        model_folders(tmp_path)


def test_params_folds_pick_the_ensemble_and_skip_a_stale_fold(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for fold in range(3):  # fold_2: outputs of a fold that params no longer name
        _fold_predictions(tmp_path, fold, {50: 3.0})
    assert model_folders(tmp_path, 2) == [tmp_path / "fold_0", tmp_path / "fold_1"]
    assert "skipping fold_2" in capsys.readouterr().err
    assert len(model_folders(tmp_path, 3)) == 3
    assert capsys.readouterr().err == ""
    with pytest.raises(BallspotError, match="no fold_3 folder for the 4 folds"):
        model_folders(tmp_path, 4)
