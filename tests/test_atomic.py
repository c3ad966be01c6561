"""Atomic outputs: a run's output files land together, or the folder stays as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, tiny_params, write_params

from ballspot.core import atomic
from ballspot.core.atomic import atomic_dir, staged_outputs, write_json
from ballspot.core.errors import BallspotError

NAMES = ("results.json", "overlay.mp4")


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_outputs_replace_the_earlier_run_and_unwritten_ones_go(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("old")
    (out / "overlay.mp4").write_text("old overlay")
    (out / "notes.txt").write_text("the user's")
    with staged_outputs(out, NAMES) as stage:
        (stage / "results.json").write_text("new")
        assert (out / "results.json").read_text() == "old"  # nothing moves before the end
    assert (out / "results.json").read_text() == "new"
    assert not (out / "overlay.mp4").exists()  # this run wrote none: the old one would mislead
    assert (out / "notes.txt").read_text() == "the user's"
    assert _leftovers(out) == []


def test_a_failed_run_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("old")
    with pytest.raises(RuntimeError), staged_outputs(out, NAMES) as stage:
        (stage / "results.json").write_text("new")
        raise RuntimeError("the overlay failed")
    assert (out / "results.json").read_text() == "old"
    assert sorted(p.name for p in out.iterdir()) == ["results.json"]


def test_a_failed_run_removes_the_folders_it_created(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), staged_outputs(tmp_path / "a" / "b", NAMES) as stage:
        (stage / "results.json").write_text("new")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_folder_is_one_line_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with (pytest.raises(BallspotError, match="cannot write the output folder") as info,
          staged_outputs(tmp_path / "file" / "out", NAMES)):
        pytest.fail("the body must not run")
    assert "file/out" in str(info.value) and "\n" not in str(info.value)


def test_a_move_that_fails_midway_puts_the_old_files_back(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("old a")
    (out / "b.txt").write_text("old b")
    real = os.replace
    calls = {"n": 0}

    def flaky(src: Any, dst: Any) -> None:
        if Path(dst).parent == out and Path(src).parent.name.startswith(".staging."):
            calls["n"] += 1
            if calls["n"] == 2:  # the second new file cannot land
                raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", flaky)
    with pytest.raises(BallspotError, match="cannot move the outputs into place"), \
            staged_outputs(out, ["a.txt", "b.txt"]) as stage:
        (stage / "a.txt").write_text("new a")
        (stage / "b.txt").write_text("new b")
    assert (out / "a.txt").read_text() == "old a" and (out / "b.txt").read_text() == "old b"
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt"]


def test_the_next_write_removes_what_a_killed_run_left(tmp_path: Path) -> None:
    target = tmp_path / "fold_0"
    stale_dir = tmp_path / ".fold_0.k1ll3d00.tmp"
    stale_dir.mkdir()
    (stale_dir / "half.npz").write_bytes(b"x")
    stale_file = tmp_path / ".scores.json.abcd1234.tmp"
    stale_file.write_text("{")
    other = tmp_path / ".fold_0_extra.abcd1234.tmp"  # another target's: kept
    other.write_text("x")
    with atomic_dir(target) as tmp:
        (tmp / "done").write_text("ok")
    write_json(tmp_path / "scores.json", {"a": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "fold_0", "scores.json"]
    out = tmp_path / "spot"
    out.mkdir()
    (out / ".staging.zzzzzzzz.tmp").mkdir()
    with staged_outputs(out, ["r.json"]) as stage:
        (stage / "r.json").write_text("{}")
    assert sorted(p.name for p in out.iterdir()) == ["r.json"]


def test_a_folder_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "models"
    for content in ("first", "second"):
        with atomic_dir(target) as tmp:
            (tmp / "weights").write_text(content)
    assert (target / "weights").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signalled_stage_ends_with_one_line_and_writes_nothing(
        tiny_project: Path, signum: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "stages.data"], cwd=tiny_project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    data = tiny_project / "data"
    # wait until the stage is rendering into its temporary folders
    while time.monotonic() < deadline and not any(data.glob(".*.tmp")):
        time.sleep(0.05)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    lines = err.strip().splitlines()
    assert lines[-1] == (f"ballspot: interrupted ({signal.Signals(signum).name}); the outputs "
                         "of this run were not written"), err
    assert "Traceback" not in err
    assert not any(data.glob(".*.tmp")) and not (data / "soccernet").exists()


@pytest.fixture()
def tiny_project(tmp_path: Path) -> Path:
    write_params(tmp_path, tiny_params())
    return tmp_path
