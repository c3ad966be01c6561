"""Training: self-describing model directories, and resume after a kill ends bit-identical."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from conftest import REPO, tiny_params, write_params

from ballspot.model.folder import CONFIG_FILE, WEIGHTS_FILE, load_model_dir
from ballspot.train.config import TrainConfig
from ballspot.train.loop import CHECKPOINT_FILE
from ballspot.train.validation import average_precision


def _train(workdir: Path, out: str, checkpoints: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "stages.train", "--stage", "train_basic", "--fold", "0",
         "--out", out, "--live", f"{out}-live", "--checkpoints", checkpoints],
        cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def workdir(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("train")
    shutil.copytree(tiny_data / "data", work / "data")
    params = tiny_params()
    params["train_basic"].update(epochs_warmup=1, epochs_train=2, train_epoch_size=24)
    write_params(work, params)
    return work


def test_a_killed_run_resumes_and_ends_with_the_same_weights(workdir: Path) -> None:
    full = _train(workdir, "models/full", "ck/full")
    output = full.communicate(timeout=600)[0]
    assert full.returncode == 0, output

    run = _train(workdir, "models/resumed", "ck/resumed")
    checkpoint = workdir / "ck/resumed" / CHECKPOINT_FILE
    deadline = time.monotonic() + 600
    while not checkpoint.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert run.poll() is None, "training finished before it could be killed"
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=60)
    assert not (workdir / "models/resumed" / WEIGHTS_FILE).exists()

    resumed = _train(workdir, "models/resumed", "ck/resumed")
    output = resumed.communicate(timeout=600)[0]
    assert resumed.returncode == 0, output
    assert "resumed after epoch" in output
    assert not checkpoint.exists()
    a = (workdir / "models/full" / WEIGHTS_FILE).read_bytes()
    b = (workdir / "models/resumed" / WEIGHTS_FILE).read_bytes()
    assert a == b


def test_model_directory_describes_itself(workdir: Path) -> None:
    model_dir = workdir / "models/full"
    if not (model_dir / WEIGHTS_FILE).exists():
        pytest.skip("needs the trained model of the resume test")
    resolved = yaml.safe_load((model_dir / CONFIG_FILE).read_text())
    assert resolved["model"]["model_name"] == "mobilenetv3_small_050"
    assert resolved["frames"] == {"image_size": None, "video_size": [96, 64],
                                  "frame_stack_size": 6, "frame_stack_step": 2}
    assert resolved["train"]["total_steps"] == 3 * 6
    model, _ = load_model_dir(model_dir)
    assert not model.training
    with torch.no_grad():
        assert model(torch.rand(1, 6, 64, 96)).shape == (1, 2)
    live = workdir / "models/full-live"
    assert (live / "metrics.json").is_file()
    assert (live / "plots/metrics/train_loss.tsv").is_file()
    assert (live / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_average_precision_matches_hand_computation() -> None:
    targets = torch.tensor([[1, 0], [0, 0], [1, 0], [0, 1]]).numpy()
    scores = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.3, 0.3], [0.1, 0.9]]).numpy()
    ap = average_precision(targets, scores)
    assert ap[0] == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert ap[1] == pytest.approx(1.0)


def test_unknown_training_parameter_is_a_one_line_error() -> None:
    from ballspot.core.errors import BallspotError

    with pytest.raises(BallspotError, match="unknown training parameter"):
        TrainConfig.from_params({"epochs": 3})


def test_clips_from_memory_equal_decoded_clips(tiny_data: Path) -> None:
    """frames_in_memory changes where frames come from, never which frames: same clips, targets."""
    from ballspot.data.soccernet import DatasetSpec, load_games
    from ballspot.model.frames import StackIndexes
    from ballspot.train.clips import ClipDataset
    from ballspot.train.sampling import ValidationSampler

    params = tiny_params()
    params["dataset"]["root"] = str(tiny_data / params["dataset"]["root"])
    spec = DatasetSpec.from_params(params["dataset"])
    videos = load_games(spec, list(spec.folds[0]))
    sampler = ValidationSampler.from_videos(videos, StackIndexes(6, 2))
    decoded = ClipDataset(videos, spec.classes, sampler, 15)
    in_memory = ClipDataset(videos, spec.classes, sampler, 15, in_memory=True)
    assert len(sampler) > 2
    for i in range(len(sampler)):
        (a, ta), (b, tb) = decoded[i], in_memory[i]
        assert torch.equal(a, b) and torch.equal(ta, tb)
