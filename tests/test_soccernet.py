"""SoccerNet layout and label files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ballspot.core.errors import BallspotError
from ballspot.data.soccernet import (
    Annotation,
    DatasetSpec,
    frame_to_position,
    game_time,
    list_games,
    position_to_frame,
    read_labels,
    write_labels,
)

GAME = "england_efl/2019-2020/2019-10-01 - Reading - Fulham"


def test_position_to_frame_uses_the_rounding_rule() -> None:
    assert position_to_frame("1160") == 29  # the official evaluator truncates this to 28
    assert position_to_frame(10200) == 255
    assert position_to_frame("39") == 1  # 0.975 frames rounds up
    assert position_to_frame("19") == 0


def test_frame_to_position_inverts_on_every_frame() -> None:
    assert all(position_to_frame(frame_to_position(f)) == f for f in range(100_000))


def test_game_time_is_half_minutes_seconds() -> None:
    assert game_time(2, 25 * 61 + 24) == "2 - 01:01"
    assert game_time(1, 0) == "1 - 00:00"


def test_labels_round_trip_keeps_two_events_on_one_frame(tmp_path: Path) -> None:
    annotations = [Annotation(1, 29, "PASS", "left"), Annotation(1, 29, "DRIVE", "right"),
                   Annotation(2, 5, "PASS", "left")]
    path = tmp_path / "Labels-ball.json"
    write_labels(path, GAME, annotations)
    data = json.loads(path.read_text())
    assert data["UrlLocal"] == GAME
    assert data["annotations"][0] == {"gameTime": "1 - 00:01", "label": "PASS",
                                      "position": "1160", "team": "left",
                                      "visibility": "visible"}
    back = read_labels(path, ("PASS", "DRIVE"), (1, 2))
    assert sorted(back) == sorted(annotations)


@pytest.mark.parametrize(("content", "problem"), [
    ("{not json", "malformed labels JSON"),
    ('{"annotations": 3}', "no 'annotations' list"),
    ('{"annotations": [{"gameTime": "1 - 00:01", "label": "PASS"}]}', "has no 'position'"),
    ('{"annotations": [{"gameTime": "x", "label": "PASS", "position": "1"}]}',
     "malformed gameTime"),
    ('{"annotations": [{"gameTime": "1 - 00:01", "label": "SHOT", "position": "1"}]}',
     "unknown class 'SHOT'"),
    ('{"annotations": [{"gameTime": "3 - 00:01", "label": "PASS", "position": "1"}]}',
     "in half 3"),
    ('{"annotations": [{"gameTime": "1 - 00:01", "label": "PASS", "position": "abc"}]}',
     "non-numeric position"),
])
def test_bad_labels_give_one_line_error_naming_the_file(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "Labels-ball.json"
    path.write_text(content)
    with pytest.raises(BallspotError) as info:
        read_labels(path, ("PASS", "DRIVE"), (1, 2))
    message = str(info.value)
    assert str(path) in message and problem in message and "\n" not in message


def test_missing_label_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(BallspotError, match="label file not found"):
        read_labels(tmp_path / "Labels-ball.json")


def test_dataset_spec_folds_come_from_params() -> None:
    spec = DatasetSpec.from_params({
        "root": "data/soccernet", "task": "spotting-ball-2023",
        "folds": [["a/b/g0"], ["a/b/g1"], ["a/b/g2"]], "test_folds": [2],
        "challenge": ["a/b/c0"],
    })
    assert spec.labelled_games == ["a/b/g0", "a/b/g1", "a/b/g2"]
    assert spec.train_games(1) == ["a/b/g0", "a/b/g2"]
    assert spec.fold_of("a/b/g2") == 2
    assert spec.label_path("a/b/g0") == Path("data/soccernet/spotting-ball-2023/a/b/g0/"
                                             "Labels-ball.json")
    assert spec.video_stem(2) == "2_224p"


def test_list_games_walks_league_season_game(tmp_path: Path) -> None:
    for game in ("l/s/g1", "l/s/g2", "l2/s/g3"):
        (tmp_path / game).mkdir(parents=True)
    write_labels(tmp_path / "l/s/g1/Labels-ball.json", "l/s/g1", [])
    assert list_games(tmp_path) == ["l/s/g1", "l/s/g2", "l2/s/g3"]
    assert list_games(tmp_path, "Labels-ball.json") == ["l/s/g1"]
