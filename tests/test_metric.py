"""ballspot.eval.metric against the official SoccerNet evaluator, on fixtures with its quirks."""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from SoccerNet.Evaluation import ActionSpotting

from ballspot.core.errors import BallspotError
from ballspot.eval.metric import BALL_2024_CLASSES, Spots, evaluate, register, spotting_map

# the official evaluator's reading of any confidence (NaN, negative, above 1)
OFFICIAL = {"check_confidences": False}
GAME_A = "england_efl/2019-2020/2019-10-01 - Reading - Fulham"
GAME_B = "england_efl/2019-2020/2019-10-01 - Stoke City - Huddersfield Town"
TOL = 1e-9


def official(labels: Path, predictions: Path, games: list[str], metric: str = "at1",
             classes: tuple[str, ...] = ("PASS", "DRIVE"), monkeypatch=None) -> dict[str, Any]:
    """The official evaluate() on an explicit game list.

    SoccerNet 0.2.0 rejects a list of game names as ``split`` (only split names are known), so
    the game list is injected the way the 2023 solution's copy of evaluate() took it.
    """
    monkeypatch.setattr(ActionSpotting, "getListGames", lambda **kwargs: list(games))
    result = ActionSpotting.evaluate(
        SoccerNet_path=str(labels), Predictions_path=str(predictions), split="test", version=2,
        prediction_file="results_spotting.json", label_files="Labels-ball.json", metric=metric,
        dataset="Ball", framerate=25, EVENT_DICTIONARY={c: i for i, c in enumerate(classes)})
    return {"mAP": float(result["a_mAP"]),
            "per_class": [float(v) for v in result["a_mAP_per_class"]]}


def assert_same(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert abs(ours["mAP"] - theirs["mAP"]) <= TOL, (ours, theirs)
    assert np.allclose(list(ours["per_class"].values()), theirs["per_class"], rtol=0, atol=TOL)


def write_game(root: Path, game: str, labels: list[dict] | None = None,
               predictions: list[dict] | None = None) -> None:
    if labels is not None:
        path = root / "labels" / game / "Labels-ball.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"UrlLocal": game, "annotations": labels}))
    if predictions is not None:
        path = root / "preds" / game / "results_spotting.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"UrlLocal": game, "predictions": predictions}))


def gt(half: int, ms: int | None, label: str = "PASS", visibility: str = "visible",
       game_time: str | None = None) -> dict:
    seconds = (ms or 0) // 1000
    item = {"gameTime": game_time or f"{half} - {seconds // 60:02d}:{seconds % 60:02d}",
            "label": label, "team": "left", "visibility": visibility}
    if ms is not None:
        item["position"] = str(ms)
    return item


def pred(half: Any, ms: Any, confidence: Any, label: str = "PASS") -> dict:
    return {"gameTime": "1 - 00:00", "label": label, "position": ms, "half": half,
            "confidence": confidence}


def hand_placed(root: Path) -> None:
    """Two games, every quirk of the evaluator in one place."""
    labels_a = [
        gt(1, 10000), gt(1, 30000), gt(1, 60000), gt(1, 90000), gt(1, 90000),  # GT collision
        gt(1, 1160),                      # truncates to frame 28
        gt(1, 120000), gt(1, 120400),     # close pair: greedy-by-time trap
        gt(1, None, game_time="1 - 03:20"),  # no position: from gameTime
        gt(1, 150000, visibility="not shown"),
        gt(1, 200000, label="HEADER"),    # unknown label
        gt(3, 10000),                     # half 3
        gt(1, 7_300_000),                 # past 120 min: clipped to the last frame
        gt(2, 5000, label="DRIVE"), gt(2, 50000, label="DRIVE"),
        gt(2, 100020), gt(2, 100620),     # tie trap: frames 2500 and 2515
        gt(2, 250000), gt(2, 260000),     # matched only by zero-confidence detections
        gt(2, 7_200_000),                 # clipped to frame 179999
    ]
    preds_a = [
        pred("1", "10000", "0.9"),         # exact
        pred("1", "30500", "0.8"),         # +0.5 s (12.5 frames): a hit
        pred("1", "60520", "0.85"),        # +13 frames: a miss
        pred("1", "92000", 0.7),           # +2 s: a miss
        pred("1", "89980", "0.2"),         # near the collided GT
        pred("1", "1640", "0.6"),          # 1160 ms + 12 frames
        pred("1", 120200, "0.95"), pred("1", 120600, "0.5"), pred("1", 119900, "0.5"),
        pred(1, "200000", "0.4"),          # the gameTime-only GT
        pred("1", "150000", "0.65"),
        pred("1", "40000", "0.3"), pred("1", "40000", "0.75"),   # two in one slot: last wins
        pred("1", "45000", "0.99"), pred("1", "45000", "-1"),    # negative deletes
        pred("1", "47000", "0.5"), pred("1", "47000", None),     # None (NaN) deletes too
        pred("1", "200000", "0.9", label="HEADER"),              # unknown label
        pred("3", "10000", "0.9"),                               # half 3
        pred("1", "7400000", "0.55"), pred("1", "7500000", "0.45"),  # clipped, one slot
        pred("1", "-2000", "0.3"),         # negative: wraps to the end of the half
        pred("1", "170000", "1.5"),        # above 1: passes every threshold
        pred("1", "171000", "0"),          # zero: only passes t = 0
        pred("1", 172000.7, "0.33"),       # float position: int() truncates
        pred("2", "5000", "0.5", label="DRIVE"), pred("2", "5040", "0.5", label="DRIVE"),
        pred("2", "4960", "0.5", label="DRIVE"),   # equal scores: earliest wins
        pred("2", "51000", "0.61", label="DRIVE"),
        pred("2", "300000", "0.97", label="DRIVE"),  # false positive
        # equal scores at 2497 and 2503: GT 2500 must take 2497 so that GT 2515 gets 2503
        pred("2", "99900", "0.5"), pred("2", "100140", "0.5"),
        pred("2", "250000", "0"), pred("2", "260000", 0.0),
        pred("2", "-120", "0.8"),          # frame -3 wraps to 179997: a hit
    ]
    labels_b = [gt(1, 20000), gt(2, 20000, label="DRIVE"), gt(2, 20040, label="DRIVE")]
    preds_b = [pred("2", "20000", "0.8", label="DRIVE"), pred("1", "25000", "0.1"),
               pred("2", "20040", "0.45", label="DRIVE")]
    write_game(root, GAME_A, labels_a, preds_a)
    write_game(root, GAME_B, labels_b, preds_b)


def random_game(root: Path, game: str, seed: int, classes: tuple[str, ...], halves: tuple[int, ...],
                events_per_half: int, minutes: float, dense: bool = False) -> None:
    """Seeded events, with hits, near misses, duplicates and false positives around them."""
    rng = np.random.default_rng(seed)
    labels, preds = [], []
    length_ms = int(minutes * 60_000)
    for half in halves:
        if dense:  # clustered events, so that greedy matching interacts a lot
            centres = rng.integers(0, length_ms, size=max(1, events_per_half // 8))
            times = (rng.choice(centres, events_per_half) + rng.integers(-1500, 1500,
                                                                          events_per_half))
        else:
            times = rng.integers(0, length_ms, size=events_per_half)
        times = np.clip(times // 40 * 40, 0, None)
        for t in times:
            labels.append(gt(half, int(t), str(rng.choice(classes)),
                             "visible" if rng.random() < 0.8 else "not shown"))
        for t, label in zip(times, [a["label"] for a in labels[-len(times):]], strict=True):
            for _ in range(rng.integers(0, 4)):
                jitter = int(rng.normal(0, 400))
                ms = int(t) + jitter if rng.random() < 0.5 else (int(t) + jitter) // 40 * 40
                preds.append(pred(str(half), str(max(ms, 0)),
                                  str(round(float(rng.random()), 4)),
                                  label if rng.random() < 0.9 else str(rng.choice(classes))))
        for _ in range(events_per_half * 3):
            preds.append(pred(str(half), str(int(rng.integers(0, length_ms))),
                              str(float(rng.random() ** 2)), str(rng.choice(classes))))
    order = rng.permutation(len(preds))  # file order matters only for slot collisions
    write_game(root, game, labels, [preds[i] for i in order])


@pytest.mark.parametrize("metric", ["at1", "at2", "tight"])
def test_hand_placed_quirks_equal_official(tmp_path: Path, monkeypatch, metric: str) -> None:
    hand_placed(tmp_path)
    ours = evaluate(tmp_path / "labels", tmp_path / "preds", **OFFICIAL, metric=metric)
    assert ours["games"] == [GAME_A, GAME_B]
    assert_same(ours, official(tmp_path / "labels", tmp_path / "preds", [GAME_A, GAME_B], metric,
                               monkeypatch=monkeypatch))


def test_hand_placed_is_neither_perfect_nor_zero(tmp_path: Path) -> None:
    hand_placed(tmp_path)
    ours = evaluate(tmp_path / "labels", tmp_path / "preds", **OFFICIAL)
    assert 0.2 < ours["per_class"]["PASS"] < 1.0 and 0.2 < ours["per_class"]["DRIVE"] < 1.0


def test_truncation_moves_1160_ms_to_frame_28(tmp_path: Path) -> None:
    # GT 1160 ms is frame 28 (not 29); a prediction at frame 29 + 12 = 41 (1640 ms) misses
    write_game(tmp_path, GAME_A, [gt(1, 1160)], [pred("1", "1640", "0.9")])
    assert evaluate(tmp_path / "labels", tmp_path / "preds", **OFFICIAL)["per_class"]["PASS"] == 0.0
    write_game(tmp_path, GAME_A, [gt(1, 1160)], [pred("1", "1600", "0.9")])
    assert evaluate(tmp_path / "labels", tmp_path / "preds", **OFFICIAL)["per_class"]["PASS"] == 1.0


def test_seeded_random_half_equals_official(tmp_path: Path, monkeypatch) -> None:
    random_game(tmp_path, GAME_A, seed=1, classes=("PASS", "DRIVE"), halves=(1, 2),
                events_per_half=400, minutes=45)
    ours = evaluate(tmp_path / "labels", tmp_path / "preds", **OFFICIAL)
    assert 0.1 < ours["mAP"] < 0.9
    assert_same(ours, official(tmp_path / "labels", tmp_path / "preds", [GAME_A],
                               monkeypatch=monkeypatch))


@pytest.mark.parametrize("metric", ["tight", "loose"])
def test_multi_window_metrics_equal_official(tmp_path: Path, monkeypatch, metric: str) -> None:
    random_game(tmp_path, GAME_A, seed=2, classes=("PASS", "DRIVE"), halves=(1, 2),
                events_per_half=120, minutes=15)
    ours = evaluate(tmp_path / "labels", tmp_path / "preds", **OFFICIAL, metric=metric)
    assert_same(ours, official(tmp_path / "labels", tmp_path / "preds", [GAME_A], metric,
                               monkeypatch=monkeypatch))


@pytest.mark.parametrize("seed", range(6))
def test_dense_clusters_greedy_matching_equals_official(tmp_path: Path, monkeypatch,
                                                        seed: int) -> None:
    random_game(tmp_path, GAME_A, seed=100 + seed, classes=("PASS", "DRIVE"), halves=(1, 2),
                events_per_half=80, minutes=3, dense=True)
    ours = evaluate(tmp_path / "labels", tmp_path / "preds", **OFFICIAL, metric="at2")
    assert_same(ours, official(tmp_path / "labels", tmp_path / "preds", [GAME_A], "at2",
                               monkeypatch=monkeypatch))


def test_twelve_class_2024_variant_equals_official(tmp_path: Path, monkeypatch) -> None:
    random_game(tmp_path, GAME_A, seed=3, classes=BALL_2024_CLASSES[:11], halves=(1,),
                events_per_half=300, minutes=45)  # GOAL has no ground truth: AP 0, still counted
    random_game(tmp_path, GAME_B, seed=4, classes=BALL_2024_CLASSES[:11], halves=(1,),
                events_per_half=100, minutes=20)
    ours = evaluate(tmp_path / "labels", tmp_path / "preds", **OFFICIAL, classes=BALL_2024_CLASSES)
    assert ours["per_class"]["GOAL"] == 0.0
    assert_same(ours, official(tmp_path / "labels", tmp_path / "preds", [GAME_A, GAME_B],
                               classes=BALL_2024_CLASSES, monkeypatch=monkeypatch))


def zip_tree(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for path in sorted(folder.rglob("*.json")):
            zf.write(path, path.relative_to(folder).as_posix())
    return target


def test_zipped_inputs_equal_official_and_folders(tmp_path: Path, monkeypatch) -> None:
    hand_placed(tmp_path)
    labels = zip_tree(tmp_path / "labels", tmp_path / "labels.zip")
    preds = zip_tree(tmp_path / "preds", tmp_path / "results_spotting.zip")
    ours = evaluate(labels, preds, **OFFICIAL)
    assert ours == evaluate(tmp_path / "labels", tmp_path / "preds", **OFFICIAL)
    assert_same(ours, official(labels, preds, [GAME_A, GAME_B], monkeypatch=monkeypatch))


def test_explicit_games_restrict_scoring(tmp_path: Path, monkeypatch) -> None:
    hand_placed(tmp_path)
    ours = evaluate(tmp_path / "labels", tmp_path / "preds", **OFFICIAL, games=[GAME_B])
    assert ours["games"] == [GAME_B]
    assert_same(ours, official(tmp_path / "labels", tmp_path / "preds", [GAME_B],
                               monkeypatch=monkeypatch))


def test_malformed_prediction_json_is_one_line_error_naming_file(tmp_path: Path) -> None:
    hand_placed(tmp_path)
    bad = tmp_path / "preds" / GAME_B / "results_spotting.json"
    bad.write_text('{"predictions": [')
    with pytest.raises(BallspotError) as info:
        evaluate(tmp_path / "labels", tmp_path / "preds", **OFFICIAL)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)


def test_prediction_without_half_names_file_and_item(tmp_path: Path) -> None:
    write_game(tmp_path, GAME_A, [gt(1, 1000)], [{"label": "PASS", "position": "1000",
                                                  "confidence": "0.5"}])
    with pytest.raises(BallspotError, match=r"results_spotting\.json: prediction 0 is malformed"):
        evaluate(tmp_path / "labels", tmp_path / "preds", **OFFICIAL)


def test_position_with_decimal_string_is_rejected_like_official(tmp_path: Path) -> None:
    write_game(tmp_path, GAME_A, [gt(1, 1000)], [pred("1", "1000.0", "0.5")])
    with pytest.raises(BallspotError, match="prediction 0"):
        evaluate(tmp_path / "labels", tmp_path / "preds", **OFFICIAL)


def test_missing_confidence_is_an_error_even_in_half_3(tmp_path: Path, monkeypatch) -> None:
    # the evaluator reads the confidence before it drops halves other than 1 and 2
    write_game(tmp_path, GAME_A, [gt(1, 1000)], [{"label": "PASS", "position": "1000",
                                                  "half": "3"}])
    with pytest.raises(KeyError):
        official(tmp_path / "labels", tmp_path / "preds", [GAME_A], monkeypatch=monkeypatch)
    with pytest.raises(BallspotError, match="prediction 0"):
        evaluate(tmp_path / "labels", tmp_path / "preds", **OFFICIAL)


def test_scored_game_without_labels_is_an_error(tmp_path: Path) -> None:
    write_game(tmp_path, GAME_A, predictions=[pred("1", "1000", "0.5")])
    (tmp_path / "labels").mkdir()
    with pytest.raises(BallspotError, match="Labels-ball.json: file not found"):
        evaluate(tmp_path / "labels", tmp_path / "preds", games=[GAME_A], **OFFICIAL)
    with pytest.raises(BallspotError, match="no league/season/game folder holds Labels-ball"):
        evaluate(tmp_path / "labels", tmp_path / "preds", **OFFICIAL)


def test_no_prediction_files_is_an_error(tmp_path: Path) -> None:
    write_game(tmp_path, GAME_A, labels=[gt(1, 1000)])
    (tmp_path / "preds").mkdir()
    with pytest.raises(BallspotError, match="no results_spotting.json for 1 of 1 labelled"):
        evaluate(tmp_path / "labels", tmp_path / "preds", **OFFICIAL)


def test_unknown_metric_is_an_error(tmp_path: Path) -> None:
    hand_placed(tmp_path)
    with pytest.raises(BallspotError, match="unknown metric"):
        evaluate(tmp_path / "labels", tmp_path / "preds", **OFFICIAL, metric="at6")


def test_in_memory_map_applies_slot_rules_and_greedy_matching() -> None:
    truth = Spots.from_lists(stream=[0, 0], label=[0, 0], frame=[100, 110])
    # the 0.9 detection at 105 is nearest both; GT 100 takes it, GT 110 takes 0.5 at 122
    dets = Spots.from_lists(stream=[0, 0, 0, 0], label=[0, 0, 0, 1],
                            frame=[105, 122, 123, 500], score=[0.9, 0.5, 0.8, 0.7])
    value, per_class = spotting_map(truth, dets, num_classes=2)
    # 123 (0.8) is a FP; precision/recall: (1, 0.5) above 0.8, (0.5, 0.5), then (2/3, 1)
    assert per_class[1] == 0.0
    expected = (1.0 * 6 + (2 / 3) * 5) / 11  # recall 0.5 at precision 1, recall 1 at 2/3
    assert per_class[0] == pytest.approx(expected, abs=1e-12)
    assert value == pytest.approx(expected / 2, abs=1e-12)


def test_cli_prints_and_writes_json(tmp_path: Path, capsys) -> None:
    hand_placed(tmp_path)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "out" / "metric.json"
    args = parser.parse_args(["evaluate", "--labels", str(tmp_path / "labels"),
                              "--predictions", str(tmp_path / "preds"), "--metric", "tight",
                              "--official-confidences", "--output", str(out)])
    args.func(args)
    written = json.loads(out.read_text())
    assert written == evaluate(tmp_path / "labels", tmp_path / "preds", **OFFICIAL, metric="tight")
    printed = capsys.readouterr().out
    assert "mAP (tight) over 2 games" in printed and "DRIVE" in printed


def test_a_labelled_game_without_predictions_is_an_error_unless_allowed(tmp_path: Path) -> None:
    hand_placed(tmp_path)
    (tmp_path / "preds" / GAME_B / "results_spotting.json").unlink()
    with pytest.raises(BallspotError) as info:
        evaluate(tmp_path / "labels", tmp_path / "preds", **OFFICIAL)
    assert "no results_spotting.json for 1 of 2 labelled games" in str(info.value)
    assert "--allow-missing" in str(info.value)
    both = evaluate(tmp_path / "labels", tmp_path / "preds", allow_missing=True, **OFFICIAL)
    only_a = evaluate(tmp_path / "labels", tmp_path / "preds", games=[GAME_A], **OFFICIAL)
    assert both["missing"] == [GAME_B] and both["games"] == [GAME_A, GAME_B]
    assert both["mAP"] < only_a["mAP"]  # B's ground truths count as misses, not as absent


@pytest.mark.parametrize("confidence", ["nan", "1.5", "-0.1", "inf"])
def test_a_nan_or_out_of_range_confidence_is_an_error_naming_the_file(
        tmp_path: Path, confidence: str) -> None:
    write_game(tmp_path, GAME_A, [gt(1, 20000)],
               [pred("1", "20000", "0.9"), pred("1", "30000", confidence)])
    with pytest.raises(BallspotError) as info:
        evaluate(tmp_path / "labels", tmp_path / "preds")
    assert str(info.value).startswith(str(tmp_path / "preds" / GAME_A / "results_spotting.json"))
    assert "must be a number in [0, 1]" in str(info.value)
    evaluate(tmp_path / "labels", tmp_path / "preds", **OFFICIAL)  # the official reading
