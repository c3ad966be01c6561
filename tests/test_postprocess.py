"""Peak detection, results_spotting.json, raw-prediction files and blending."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ballspot.core.errors import BallspotError
from ballspot.data.soccernet import Annotation, write_labels
from ballspot.eval.metric import evaluate
from ballspot.predict.postprocess import (
    PostprocessParams,
    blend_raw_predictions,
    load_raw_predictions,
    postprocess,
    predictions_to_results,
    save_raw_predictions,
    write_results,
)

GAME = "england_efl/2019-2020/2019-10-01 - Reading - Fulham"


def one_class(values: dict[int, float], length: int = 100) -> np.ndarray:
    raw = np.zeros((length, 1), dtype=np.float32)
    for frame, value in values.items():
        raw[frame, 0] = value
    return raw


def test_lone_unit_spike_smooths_below_height_and_is_not_detected() -> None:
    raw = one_class({50: 1.0})
    assert postprocess(np.arange(100), raw) == []
    # with a lower height the same spike is found, at its smoothed value 1/(3*sqrt(2*pi))
    (action,) = postprocess(np.arange(100), raw, PostprocessParams(height=0.1))
    assert action[:2] == (50, 0)
    assert action[2] == pytest.approx(0.133, abs=5e-4)


def test_spec_spikes_give_peaks_at_20_and_merged_42() -> None:
    raw = one_class({20: 3.0, 40: 0.9 * 3, 44: 0.9 * 3})
    actions = postprocess(np.arange(100) + 1000, raw)
    assert [(f, c) for f, c, _ in actions] == [(1020, 0), (1042, 0)]
    assert actions[0][2] == pytest.approx(0.399, abs=5e-4)
    assert actions[1][2] == pytest.approx(0.575, abs=5e-4)


def test_distance_keeps_the_higher_of_two_close_peaks() -> None:
    raw = one_class({30: 3.0, 40: 4.0})
    actions = postprocess(np.arange(100), raw, PostprocessParams(distance=15))
    assert [f for f, _, _ in actions] == [40]
    wide = postprocess(np.arange(100), raw, PostprocessParams(distance=5))
    assert [f for f, _, _ in wide] == [30, 40]


def test_classes_are_detected_independently_and_sorted_by_frame() -> None:
    raw = np.zeros((100, 2), dtype=np.float32)
    raw[60, 0] = 3.0
    raw[30, 1] = 3.0
    assert [(f, c) for f, c, _ in postprocess(np.arange(100), raw)] == [(30, 1), (60, 0)]


def test_non_contiguous_frames_are_rejected() -> None:
    with pytest.raises(ValueError, match="contiguous"):
        postprocess(np.array([0, 1, 3]), np.zeros((3, 2)))


def test_params_from_mapping_and_unknown_keys() -> None:
    assert PostprocessParams.from_params({}) == PostprocessParams(3.0, 0.2, 15)
    params = PostprocessParams.from_params({"gauss_sigma": 2, "height": 0.3, "distance": 10})
    assert params == PostprocessParams(2.0, 0.3, 10)
    with pytest.raises(ValueError, match="unknown postprocess params"):
        PostprocessParams.from_params({"sigma": 3})
    with pytest.raises(ValueError):
        PostprocessParams(gauss_sigma=0)


def test_results_schema_sorting_and_strings() -> None:
    per_half = {2: [(30, 0, 0.5)], 1: [(1500, 1, 0.25), (29, 0, np.float32(0.75))]}
    results = predictions_to_results(GAME, per_half, ("PASS", "DRIVE"), fps=25.0)
    assert results == {"UrlLocal": GAME, "predictions": [
        {"gameTime": "1 - 00:01", "label": "PASS", "position": "1160", "half": "1",
         "confidence": "0.75"},
        {"gameTime": "1 - 01:00", "label": "DRIVE", "position": "60000", "half": "1",
         "confidence": "0.25"},
        {"gameTime": "2 - 00:01", "label": "PASS", "position": "1200", "half": "2",
         "confidence": "0.5"},
    ]}


def test_written_results_score_perfectly_against_matching_labels(tmp_path: Path) -> None:
    frames = [29, 250, 4000]  # 1160 ms truncates to frame 28 in the evaluator, as the label does
    write_labels(tmp_path / "labels" / GAME / "Labels-ball.json", GAME,
                 [Annotation(1, f, "PASS") for f in frames] + [Annotation(2, 77, "DRIVE")])
    results = predictions_to_results(
        GAME, {1: [(f, 0, 0.9) for f in frames], 2: [(77, 1, 0.6)]}, ("PASS", "DRIVE"))
    out = tmp_path / "preds" / GAME / "results_spotting.json"
    write_results(out, results)
    assert json.loads(out.read_text()) == results
    assert out.read_text().startswith('{\n    "UrlLocal"')
    assert not list(out.parent.glob(".*tmp*"))
    assert evaluate(tmp_path / "labels", tmp_path / "preds")["mAP"] == 1.0


def test_raw_predictions_round_trip(tmp_path: Path) -> None:
    frames = np.arange(15, 215)
    raw = np.random.default_rng(0).random((200, 2))
    path = tmp_path / "game" / "1_raw_predictions.npz"
    save_raw_predictions(path, frames, raw)
    assert sorted(p.name for p in path.parent.iterdir()) == ["1_raw_predictions.npz"]
    loaded_frames, loaded = load_raw_predictions(path)
    assert loaded_frames.dtype == np.int64 and loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded_frames, frames)
    np.testing.assert_array_equal(loaded, raw.astype(np.float32))


@pytest.mark.parametrize("arrays, problem", [
    ({"frame_indexes": np.arange(3)}, "no \\['raw_predictions'\\]"),
    ({"frame_indexes": np.arange(3), "raw_predictions": np.zeros(3)}, "2-D float"),
    ({"frame_indexes": np.arange(3.0), "raw_predictions": np.zeros((3, 2))}, "1-D int"),
    ({"frame_indexes": np.arange(4), "raw_predictions": np.zeros((3, 2))}, "4 frame indexes"),
    ({"frame_indexes": np.array([0, 2, 1]), "raw_predictions": np.zeros((3, 2))},
     "strictly increasing"),
    ({"frame_indexes": np.arange(3), "raw_predictions": np.full((3, 2), np.nan)}, "NaN"),
])
def test_malformed_npz_is_a_one_line_error_naming_the_file(tmp_path: Path, arrays: dict,
                                                           problem: str) -> None:
    path = tmp_path / "1_raw_predictions.npz"
    np.savez(path, **arrays)
    with pytest.raises(BallspotError, match=problem) as info:
        load_raw_predictions(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_not_an_npz_and_missing_file_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "1_raw_predictions.npz"
    with pytest.raises(BallspotError, match="not found"):
        load_raw_predictions(path)
    path.write_text("not a zip")
    with pytest.raises(BallspotError, match="not a readable npz"):
        load_raw_predictions(path)


def test_blend_is_the_mean_over_models_that_cover_each_frame() -> None:
    a = (np.arange(10, 20), np.full((10, 2), 0.2, dtype=np.float32))
    b = (np.arange(12, 22), np.full((10, 2), 0.6, dtype=np.float32))
    frames, blended = blend_raw_predictions([a, b])
    np.testing.assert_array_equal(frames, np.arange(10, 22))
    assert blended.dtype == np.float32
    np.testing.assert_allclose(blended[:2], 0.2)     # only model a
    np.testing.assert_allclose(blended[2:10], 0.4)   # both
    np.testing.assert_allclose(blended[10:], 0.6)    # only model b


def test_blend_of_one_model_is_itself_and_mismatches_are_rejected() -> None:
    raw = np.random.default_rng(1).random((5, 3)).astype(np.float32)
    frames, blended = blend_raw_predictions([(np.arange(5), raw)])
    np.testing.assert_array_equal(blended, raw)
    with pytest.raises(ValueError, match="number of classes"):
        blend_raw_predictions([(np.arange(5), raw), (np.arange(5), raw[:, :2])])
    with pytest.raises(ValueError, match="nothing"):
        blend_raw_predictions([])
