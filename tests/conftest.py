"""Shared fixtures: a tiny full-pipeline params set and its generated dataset."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))  # tests/videos.py helpers

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

GAME = "synthetic_league/2026-2027/2026-09-0{} - Team {} - Team {}"


def tiny_params() -> dict[str, Any]:
    """The repository's params.yaml shrunk so the whole DAG runs in about a minute on 2 cores."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params = copy.deepcopy(params)
    games = [GAME.format(k, chr(65 + 2 * k), chr(66 + 2 * k)) for k in range(1, 4)]
    params["dataset"].update(folds={"0": [games[0]], "1": [games[1]]}, test_folds=[1],
                             challenge=[games[2]])
    params["action_dataset"].update(
        train_games=["synthetic_league/2025-2026/2025-09-06 - Team X - Team Y"], val_games=[])
    params["data"]["synthetic"].update(half_seconds=5, width=96, height=64)
    params["model"].update(model_name="mobilenetv3_small_050", num_3d_blocks=1,
                           num_3d_features=24, expansion_3d_ratio=2, se_reduce_3d_ratio=8,
                           num_3d_stack_proj=16)
    for stage in ("train_basic", "train_action", "train_tuning", "train_finetune"):
        params[stage].update(frame_stack_size=6, train_epoch_size=16, batch_size=4,
                             epochs_warmup=1, epochs_train=1, num_workers=1)
    params["train_finetune"].update(frame_stack_size=9)  # longer than the stage it starts from
    params["predict"].update(batch_frames=8, device="cpu")
    return params


def run_tool(args: list[str], cwd: Path) -> str:
    """Run a command of this interpreter's environment (dvc, ballspot, python) in ``cwd``;
    a non-zero exit fails the test with its output. Returns stdout + stderr."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PYTHONPATH": str(cwd), "PATH": path}
    args = [shutil.which(args[0], path=path) or args[0], *args[1:]]
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def write_params(directory: Path, params: dict[str, Any]) -> Path:
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread: on a shared 2-core machine spinning OpenMP threads are 20x slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the tiny params.yaml and its generated dataset (data stage output)."""
    from ballspot.prepare import prepare_data

    root = tmp_path_factory.mktemp("tiny")
    params = tiny_params()
    write_params(root, params)
    cwd = Path.cwd()
    os.chdir(root)
    try:
        prepare_data(params, progress=False)
    finally:
        os.chdir(cwd)
    return root
