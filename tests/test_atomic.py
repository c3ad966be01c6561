"""Atomic outputs: a run's output files land together, or the folder stays as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from ballspot.core.atomic import staged_outputs
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
