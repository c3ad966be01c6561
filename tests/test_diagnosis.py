"""`ballspot diagnose`: each peak is sorted by what lies at its frame, and each non-true peak on
a synthetic game by what the simulated ball does there."""

from __future__ import annotations

import numpy as np

from ballspot.app.diagnosis import (
    ELSEWHERE,
    NEAR_OWN,
    OTHER_CLASS,
    TRUE,
    Peak,
    ball_state,
    classify_peak,
)

EVENTS = {"PASS": np.array([100, 400]), "DRIVE": np.array([250])}


def _kind(label: str, frame: int) -> str:
    return classify_peak(Peak(1, frame, label, 0.5), EVENTS)


def test_a_peak_within_the_metrics_reach_of_its_class_is_true():
    assert _kind("PASS", 112) == TRUE and _kind("PASS", 388) == TRUE
    assert _kind("DRIVE", 250) == TRUE


def test_a_peak_at_another_class_is_a_confusion_even_near_its_own():
    assert _kind("DRIVE", 100) == OTHER_CLASS
    assert _kind("PASS", 240) == OTHER_CLASS  # 140 frames from a pass, 10 from a drive


def test_a_peak_just_out_of_reach_is_near_own_and_far_ones_are_elsewhere():
    assert _kind("PASS", 113) == NEAR_OWN and _kind("PASS", 150) == NEAR_OWN
    assert _kind("PASS", 151) == ELSEWHERE
    assert classify_peak(Peak(1, 10, "DRIVE", 0.5), {"DRIVE": np.zeros(0, np.int64)}) == ELSEWHERE


def _ball(speeds: list[float], fps: int = 25) -> np.ndarray:
    """A ball rolling along x at ``speeds[t]`` m/s in frame t."""
    x = np.concatenate([[0.0], np.cumsum(np.asarray(speeds) / fps)])
    return np.stack([x, np.zeros_like(x), np.zeros_like(x)], axis=1)


def test_ball_state_tells_a_push_a_reception_a_roll_and_a_dribble():
    kick = _ball([3.0] * 30 + [10.0] * 30)
    stop = _ball([10.0] * 30 + [3.0] * 30)
    roll = _ball([9.0] * 60)
    far = np.full((61, 1, 2), 50.0)
    assert ball_state(kick, far, 30, 25) == "accelerating"
    assert ball_state(stop, far, 30, 25) == "decelerating"
    assert ball_state(roll, far, 30, 25) == "free, steady"
    feet = roll[:, None, :2] + np.array([0.5, 0.0])
    assert ball_state(roll, feet, 30, 25) == "at the feet"


def test_diagnose_finds_the_game_of_an_absolute_predictions_folder(tmp_path):
    from conftest import tiny_params

    from ballspot.app.diagnosis import diagnose
    from ballspot.data.soccernet import Annotation, DatasetSpec, write_labels
    from ballspot.predict.postprocess import save_raw_predictions

    params = tiny_params()
    params["dataset"]["root"] = str(tmp_path / "data")
    params["data"]["source"] = "soccernet"  # no generator replay
    spec = DatasetSpec.from_params(params["dataset"])
    game = spec.folds[0][0]
    write_labels(spec.label_path(game), game, [Annotation(1, 50, "PASS"),
                                               Annotation(1, 200, "DRIVE")])
    raw = np.zeros((300, 2), np.float32)
    raw[48:53, 0] = 0.9  # a true pass
    raw[120:125, 0] = 0.8  # a pass where nothing happened
    raw[195:200, 0] = 0.7  # a pass on the drive
    save_raw_predictions(tmp_path / "pred" / "fold_0" / game / "1_raw_predictions.npz",
                         np.arange(300), raw)
    report = diagnose(params, tmp_path / "pred")  # an absolute path, fold_* inside
    assert report["classes"]["PASS"]["peaks"] == {TRUE: 1, ELSEWHERE: 1, OTHER_CLASS: 1}
    assert report["classes"]["PASS"]["events"] == {"found": 1}
    assert report["classes"]["DRIVE"] == {"events": {"missed": 1}, "peaks": {}, "ball": {}}
