"""The whole DAG on tiny params: `dvc repro` runs every stage, a second run is a no-op, and a
post-processing change re-runs only evaluation."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, tiny_params, write_params


def _run(args: list[str], cwd: Path) -> str:
    # the stages' `python` and `dvc` are this interpreter's environment's
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PYTHONPATH": str(cwd), "PATH": path}
    args = [shutil.which(args[0], path=path) or args[0], *args[1:]]
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("dag")
    for name in ("ballspot", "stages"):
        shutil.copytree(REPO / name, work / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", work / "dvc.yaml")
    write_params(work, tiny_params())
    _run(["git", "init", "-q"], work)
    _run(["git", "config", "user.email", "ci@ballspot"], work)
    _run(["git", "config", "user.name", "ci"], work)
    _run(["dvc", "init", "-q"], work)
    _run(["dvc", "config", "core.autostage", "true"], work)
    _run(["git", "add", "-A"], work)
    _run(["git", "commit", "-qm", "tiny project"], work)
    return work


def test_dvc_repro_runs_every_stage_then_is_a_no_op(project: Path) -> None:
    _run(["dvc", "repro"], project)
    metrics = json.loads((project / "metrics/basic/oof.json").read_text())
    assert set(metrics) == {"cv", "test", "fold_0", "fold_1"}
    for scores in metrics.values():
        assert set(scores) == {"mAP", "PASS", "DRIVE"}
        assert 0.0 <= scores["mAP"] <= 1.0
    for fold in (0, 1):
        assert (project / f"models/basic/fold_{fold}/model.safetensors").is_file()
        assert (project / f"metrics/basic/train/fold_{fold}/metrics.json").is_file()
    game = tiny_params()["dataset"]["folds"]["0"][0]
    assert (project / f"data/predictions/basic/cv/fold_0/{game}/1_raw_predictions.npz").is_file()
    assert (project / f"data/results/basic/cv/{game}/results_spotting.json").is_file()

    again = _run(["dvc", "repro"], project)
    assert "didn't change, skipping" in again and "Running stage" not in again
    assert "up to date" in _run(["dvc", "status"], project)


def test_a_postprocess_change_reruns_only_evaluation(project: Path) -> None:
    if not (project / "dvc.lock").exists():
        pytest.skip("needs the repro of the previous test")
    _run(["git", "add", "-A"], project)
    _run(["git", "commit", "-qm", "tiny"], project)
    out = _run(["dvc", "exp", "run", "-S", "postprocess.height=0.3"], project)
    ran = sorted(line.split("'")[1] for line in out.splitlines() if "Running stage" in line)
    assert ran == ["evaluate_basic"]
