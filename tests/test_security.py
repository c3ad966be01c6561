"""No code from data files and no secret sent where a params file says: a planted checkpoint does
not run, the secret's variable is from an allow-list and goes over HTTPS only (loopback excepted),
and game names cannot leave the dataset root."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from ballspot.core.errors import BallspotError
from ballspot.data.download import DownloadConfig
from ballspot.data.soccernet import DatasetSpec, check_game
from ballspot.train.distributed import DistContext
from ballspot.train.loop import _resume


class _Planted:
    """Unpickling this runs a command: what a malicious checkpoint.pt would hold."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_checkpoint_runs_nothing_and_is_a_one_line_error(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    checkpoint = tmp_path / "checkpoint.pt"
    with checkpoint.open("wb") as f:
        pickle.dump({"fingerprint": "x", "payload": _Planted(marker)}, f, protocol=2)
    run = SimpleNamespace(ctx=DistContext(), device=torch.device("cpu"), fingerprint="x",
                          epochs=1, opt=None)
    with pytest.raises(BallspotError) as info:
        _resume(run, checkpoint)
    assert not marker.exists()
    assert str(info.value).startswith(str(checkpoint)) and "\n" not in str(info.value)


def test_a_checkpoint_of_tensors_still_resumes_from_plain_metadata(tmp_path: Path) -> None:
    checkpoint = tmp_path / "checkpoint.pt"
    torch.save({"fingerprint": "other", "epoch": 3, "history": [{"epoch": 1, "lr": 0.1}],
                "model": {"w": torch.zeros(2)}}, checkpoint)
    run = SimpleNamespace(ctx=DistContext(), device=torch.device("cpu"), fingerprint="x",
                          epochs=5, opt=None)
    assert _resume(run, checkpoint)[0] == 0  # another run's checkpoint: start afresh


@pytest.mark.parametrize("kwargs, words", [
    ({"password_env": "AWS_SECRET_ACCESS_KEY"}, "password_env must be one of"),
    ({"token_env": "GITHUB_TOKEN"}, "token_env must be one of"),
    ({"server": "http://evil.example/owncloud"}, "must be an https:// address"),
    ({"server": "ftp://127.0.0.1/"}, "must be an https:// address"),
])
def test_a_params_file_cannot_send_a_secret_elsewhere(kwargs: dict, words: str) -> None:
    with pytest.raises(BallspotError) as info:
        DownloadConfig(**kwargs)
    assert words in str(info.value)


@pytest.mark.parametrize("server", ["https://owncloud.example.org/remote.php/webdav",
                                    "http://127.0.0.1:8080/webdav", "http://localhost/x"])
def test_https_and_loopback_servers_are_accepted(server: str) -> None:
    assert DownloadConfig(server=server).server == server


@pytest.mark.parametrize("game", ["../../etc", "/etc/passwd", "league/../../x", "~/games/a",
                                  "C:/games/a", "league\\..\\x", "", "league//x"])
def test_game_names_cannot_leave_the_dataset_root(game: str, tmp_path: Path) -> None:
    with pytest.raises(BallspotError):
        check_game(game)
    spec = DatasetSpec(root=tmp_path, task="t")
    with pytest.raises(BallspotError):
        spec.game_dir(game)
    with pytest.raises(BallspotError):
        DatasetSpec.from_params({"root": str(tmp_path), "task": "t", "folds": {"0": [game]}})
    with pytest.raises(BallspotError):
        DatasetSpec.from_params({"root": str(tmp_path), "task": "t", "challenge": [game]})


def test_ordinary_game_names_pass(tmp_path: Path) -> None:
    game = "england_efl/2019-2020/2019-10-01 - Leeds United - West Bromwich"
    assert DatasetSpec(root=tmp_path, task="t").game_dir(game) == tmp_path / "t" / game
