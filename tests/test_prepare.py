"""The data stage: bad input gives one line naming the file, exit 1 and no partial output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, tiny_params, write_params

from ballspot.core.errors import BallspotError
from ballspot.data.soccernet import load_game
from ballspot.pipeline.preparation import dataset_specs


def _stage(workdir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "stages.data"], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture()
def game(tiny_data: Path, tmp_path: Path) -> tuple:
    """A writable copy of the tiny dataset; returns (spec, game name)."""
    shutil.copytree(tiny_data / "data", tmp_path / "data")
    spec, _ = dataset_specs(tiny_params())
    spec = type(spec)(**{**spec.__dict__, "root": tmp_path / "data/soccernet"})
    return spec, spec.labelled_games[0]


def test_the_tiny_dataset_loads(game: tuple) -> None:
    spec, name = game
    halves = load_game(spec, name)
    assert [h.half for h in halves] == [1, 2]
    assert all(h.num_frames == 125 and h.fps == 25.0 for h in halves)


def _labels(spec, name) -> tuple[Path, dict]:
    path = spec.label_path(name)
    return path, json.loads(path.read_text())


def test_missing_half_video(game: tuple) -> None:
    spec, name = game
    spec.find_video(name, 2).unlink()
    with pytest.raises(BallspotError, match="video of half 2 not found") as info:
        load_game(spec, name)
    assert name in str(info.value)


def test_zero_byte_video(game: tuple) -> None:
    spec, name = game
    path = spec.find_video(name, 1)
    path.write_bytes(b"")
    with pytest.raises(BallspotError, match="empty") as info:
        load_game(spec, name)
    assert str(path) in str(info.value)


def test_truncated_video(game: tuple) -> None:
    spec, name = game
    path = spec.find_video(name, 1)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(BallspotError) as info:
        load_game(spec, name)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_label_past_the_end_of_its_video(game: tuple) -> None:
    spec, name = game
    path, labels = _labels(spec, name)
    labels["annotations"][0].update(gameTime="1 - 00:06", position="6000")
    path.write_text(json.dumps(labels))
    with pytest.raises(BallspotError, match=r"past the end of half 1 \(125 frames"):
        load_game(spec, name)


def test_the_action_loader_moves_a_label_past_the_end_onto_the_last_frame(
        game: tuple, capsys: pytest.CaptureFixture) -> None:
    # SoccerNet-v2 has such labels; the 2023 solution's action loader clips them too
    spec, name = game
    path, labels = _labels(spec, name)
    labels["annotations"][0].update(gameTime="1 - 00:06", position="6000")
    path.write_text(json.dumps(labels))
    halves = load_game(spec, name, any_class=True)
    first = halves[0]
    assert first.clipped == 1 and max(a.frame for a in first.annotations) == 124
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "1 label(s) past the end of half 1 moved onto" in err


def test_a_corrupt_packet_stops_the_data_checks(game: tuple, tmp_path: Path) -> None:
    from videos import corrupt_packet

    from ballspot.data.checks import verify_dataset

    spec, name = game
    path = spec.find_video(name, 1)
    good = tmp_path / "good.mkv"
    shutil.copy(path, good)
    corrupt_packet(good, path, 30)
    load_game(spec, name)  # the demux checks pass
    with pytest.raises(BallspotError, match="corrupt video: decoding failed at frame") as info:
        verify_dataset(spec, spec, [], workers=2)
    assert str(info.value).startswith(str(path))


def test_unknown_class(game: tuple) -> None:
    spec, name = game
    path, labels = _labels(spec, name)
    labels["annotations"][0]["label"] = "HEADER"
    path.write_text(json.dumps(labels))
    with pytest.raises(BallspotError, match="unknown class 'HEADER'") as info:
        load_game(spec, name)
    assert str(path) in str(info.value)


def test_malformed_labels(game: tuple) -> None:
    spec, name = game
    spec.label_path(name).write_text("{oops")
    with pytest.raises(BallspotError, match="malformed labels JSON"):
        load_game(spec, name)


def test_data_stage_with_a_missing_password_fails_in_one_line_without_output(
    tmp_path: Path,
) -> None:
    params = tiny_params()
    params["data"]["source"] = "soccernet"
    write_params(tmp_path, params)
    env = {k: v for k, v in os.environ.items() if k != "SOCCERNET_PASSWORD"}
    env["SOCCERNET_PASSWORD"] = ""
    result = _stage(tmp_path, env)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "SOCCERNET_PASSWORD" in result.stderr
    assert not (tmp_path / "data").exists()


def test_data_stage_with_an_unknown_class_fails_without_output(tmp_path: Path) -> None:
    params = tiny_params()
    params["dataset"]["classes"] = ["PASS", "HEADER"]
    write_params(tmp_path, params)
    result = _stage(tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("ballspot: error:") and "HEADER" in result.stderr
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())
