"""Shared fixtures: a tiny full-pipeline params set and its generated dataset."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ballspot.app.profiles import apply_profiles

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))  # tests/videos.py helpers

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

def tiny_params() -> dict[str, Any]:
    """The repository's params.yaml with ``profiles/tiny.yaml`` applied: the whole DAG in about a
    minute on 2 cores (a fresh copy each call)."""
    return apply_profiles(["tiny"], REPO / "params.yaml", REPO / "profiles")[0]


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
    from ballspot.pipeline.preparation import prepare_data

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


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model trained on unmistakable events (tests/videos.py), shared by the spot, live
    and export tests."""
    from videos import train_event_model

    return train_event_model(tmp_path_factory.mktemp("spot_model"))


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cwd whose params.yaml sets a peak height that separates the classes of the tiny model
    (:func:`model_dir`)."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(
        {"postprocess": {"gauss_sigma": 2.0, "height": 0.4, "distance": 15},
         "predict": {"tta": True, "batch_frames": 8}}))
    monkeypatch.chdir(tmp_path)
    return tmp_path
