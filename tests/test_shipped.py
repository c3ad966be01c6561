"""The shipped default cannot go stale silently: the remote inside the repository holds every
cached output that dvc.lock names, and a fresh clone pulled from it has no stage out of date."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from conftest import run_tool as _run

REMOTE = REPO / "dvc-remote"


def _git_tracked(path: str) -> bool:
    """Metrics and plots stay in git (``cache: false``); everything else is DVC's to serve."""
    out = subprocess.run(["git", "ls-files", "--", path], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    return bool(out.strip())


def _cached_outs() -> Iterator[tuple[str, str, str]]:
    """(stage, path, md5) of every output in dvc.lock that DVC caches."""
    lock = yaml.safe_load((REPO / "dvc.lock").read_text())
    for stage, entry in lock["stages"].items():
        for out in entry.get("outs", []):
            if not _git_tracked(out["path"]):
                yield stage, out["path"], out["md5"]


def _object(md5: str) -> Path:
    return REMOTE / "files" / "md5" / md5[:2] / md5[2:]


@pytest.fixture(scope="module")
def git_repo() -> None:
    if not (REPO / ".git").exists():
        pytest.skip("needs the git repository")


def test_the_bundled_remote_is_the_default_one() -> None:
    config = (REPO / ".dvc" / "config").read_text()
    assert "remote = bundled" in config and "url = ../dvc-remote" in config


def test_the_bundled_remote_holds_every_cached_output(git_repo: None) -> None:
    outs = list(_cached_outs())
    stages = {stage.split("@")[0] for stage, _, _ in outs}
    assert {"data", "train_basic", "train_action", "train_tuning", "train_finetune"} <= stages
    missing = []
    for stage, path, md5 in outs:
        obj = _object(md5)
        if not obj.is_file():
            missing.append(f"{stage}: {path} ({md5})")
            continue
        if md5.endswith(".dir"):
            missing += [f"{stage}: {path}/{e['relpath']}" for e in json.loads(obj.read_text())
                        if not _object(e["md5"]).is_file()]
    assert not missing, f"{len(missing)} outputs not in dvc-remote/ (dvc push): {missing[:5]}"


def test_a_fresh_clone_pulls_the_default_and_no_stage_is_out_of_date(
        git_repo: None, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    _run(["git", "clone", "-q", str(REPO), str(clone)], tmp_path)
    _run(["dvc", "pull", "-q"], clone)
    assert (clone / "models/finetune/fold_0/model.safetensors").is_file()
    status = _run(["dvc", "status"], clone)
    assert "Data and pipelines are up to date" in status, status
