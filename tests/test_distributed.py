"""DDP training on the CPU (gloo, two processes): equal weights on every rank, rank 0 alone
writes, epoch shards that split the single-process epoch, and the stage's torchrun re-launch."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, tiny_params, write_params

from ballspot.model.folder import CONFIG_FILE, WEIGHTS_FILE, load_model_dir
from ballspot.train.clips import EpochSampler
from ballspot.train.config import TrainConfig
from ballspot.train.loop import CHECKPOINT_FILE
from ballspot.train.step import rank_seed
from ballspot.train.validation import _pool_shards


def test_epoch_shards_are_disjoint_and_cover_the_single_process_epoch() -> None:
    single = list(EpochSampler(10))
    shards = [list(EpochSampler(10, rank, 3)) for rank in range(3)]
    keys = [key for shard in shards for key in shard]
    assert len(keys) == len(set(keys)) == 10
    assert sorted(keys) == single
    assert [len(EpochSampler(10, r, 3)) for r in range(3)] == [4, 3, 3]
    assert shards[1] == [(0, 1), (0, 4), (0, 7)]


def test_pooled_validation_shards_are_back_in_clip_order() -> None:
    rows = np.arange(14, dtype=np.float32).reshape(7, 2)
    shards = [[rows[r::3][:1], rows[r::3][1:]] for r in range(3)]
    np.testing.assert_array_equal(_pool_shards(shards, 2), rows)
    empty = _pool_shards([[rows[:1]], []], 2)  # one clip, two ranks
    np.testing.assert_array_equal(empty, rows[:1])


def test_rank_zero_keeps_the_seed_and_other_ranks_get_their_own() -> None:
    assert rank_seed(42, 0) == 42
    assert len({rank_seed(42, r) for r in range(4)}) == 4


def test_ddp_processes_must_split_the_epoch_evenly() -> None:
    from ballspot.core.errors import BallspotError

    with pytest.raises(BallspotError, match="multiple of ddp_processes"):
        TrainConfig.from_params({"train_epoch_size": 15, "ddp_processes": 2})
    with pytest.raises(BallspotError, match="ddp_processes must be"):
        TrainConfig.from_params({"ddp_processes": 0})


def _params() -> dict[str, Any]:
    params = tiny_params()
    # one loader process and one torch thread per rank: 2 ranks share 2 cores
    params["train_basic"].update(num_workers=0, torch_threads=1, device="cpu")
    return params


def _rank(rank: int, world: int, root: str, store: str) -> None:
    """One DDP rank in a spawned process: trains fold 0, then dumps its EMA weights."""
    import torch.distributed as dist

    import ballspot.train.step as training  # where the EMA is built
    from ballspot.pipeline.training import train_fold

    emas: list[Any] = []

    class RecordingEma(training.ModelEma):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            emas.append(self)

    training.ModelEma = RecordingEma
    os.chdir(root)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        # rank-specific paths show which rank wrote what (a real run gives all ranks the same)
        metrics = train_fold(_params(), "train_basic", 0, f"models/ddp_{rank}",
                             f"live/ddp_{rank}", f"ck/ddp_{rank}", progress=False)
    finally:
        dist.destroy_process_group()
    torch.save(emas[0].module.state_dict(), f"ema_{rank}.pt")
    Path(f"metrics_{rank}.json").write_text(json.dumps(metrics))


@pytest.fixture(scope="module")
def ddp_run(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("ddp")
    shutil.copytree(tiny_data / "data", work / "data")
    torch.multiprocessing.spawn(_rank, args=(2, str(work), str(work / "store")), nprocs=2)
    return work


def test_ddp_ranks_end_with_identical_weights_and_metrics(ddp_run: Path) -> None:
    a, b = (torch.load(ddp_run / f"ema_{r}.pt") for r in range(2))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert (json.loads((ddp_run / "metrics_0.json").read_text())
            == json.loads((ddp_run / "metrics_1.json").read_text()))
    saved, resolved = load_model_dir(ddp_run / "models/ddp_0")
    for key, value in saved.state_dict().items():
        assert torch.equal(value, a[key]), key
    # 16 clips over 2 ranks of batch 4: 2 steps an epoch, the LR of a global batch of 8
    assert resolved["train"]["world_size"] == 2
    assert resolved["train"]["steps_per_epoch"] == 2
    assert resolved["train"]["lr"] == pytest.approx(2 * resolved["train"]["base_lr"])


def test_only_rank_zero_writes_model_logs_and_checkpoints(ddp_run: Path) -> None:
    assert (ddp_run / "models/ddp_0" / WEIGHTS_FILE).is_file()
    assert (ddp_run / "live/ddp_0/metrics.json").is_file()
    assert (ddp_run / "live/ddp_0/curves.png").is_file()
    assert (ddp_run / "ck/ddp_0").is_dir()  # rank 0 wrote, then removed, its checkpoint
    assert not (ddp_run / "ck/ddp_0" / CHECKPOINT_FILE).exists()
    for path in ("models/ddp_1", "live/ddp_1", "ck/ddp_1"):
        assert not (ddp_run / path).exists(), path


def test_train_stage_relaunches_itself_under_torchrun(tiny_data: Path, tmp_path: Path) -> None:
    shutil.copytree(tiny_data / "data", tmp_path / "data")
    params = _params()
    params["train_basic"]["ddp_processes"] = 2
    write_params(tmp_path, params)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "stages.train", "--stage", "train_basic", "--fold", "0",
         "--out", "models/m", "--live", "models/m-live", "--checkpoints", "ck"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    resolved = yaml.safe_load((tmp_path / "models/m" / CONFIG_FILE).read_text())
    assert resolved["train"]["world_size"] == 2
    assert (tmp_path / "models/m-live/metrics.json").is_file()
    assert not (tmp_path / "ck" / CHECKPOINT_FILE).exists()
    # one line of epoch metrics per epoch: only rank 0 prints them
    assert done.stderr.count("train: epoch 1,") == 1


@pytest.mark.slow
def test_train_stage_passes_on_a_failing_rank_exit_status(tiny_data: Path,
                                                          tmp_path: Path) -> None:
    params = _params()
    params["train_basic"]["ddp_processes"] = 2
    write_params(tmp_path, params)  # no data folder: every rank fails to find the videos
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "stages.train", "--stage", "train_basic", "--fold", "0",
         "--out", "models/m", "--live", "models/m-live"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode != 0
    assert not (tmp_path / "models/m").exists()


def _stage(workdir: Path, out: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "stages.train", "--stage", "train_basic", "--fold", "0",
         "--out", out, "--live", f"{out}-live", "--checkpoints", f"ck/{out}"],
        cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
def test_a_stopped_ddp_run_resumes_and_ends_with_the_same_weights(tiny_data: Path,
                                                                   tmp_path: Path) -> None:
    shutil.copytree(tiny_data / "data", tmp_path / "data")
    params = _params()
    params["train_basic"].update(ddp_processes=2, epochs_train=2)
    write_params(tmp_path, params)
    full = _stage(tmp_path, "full")
    output = full.communicate(timeout=600)[0]
    assert full.returncode == 0, output

    run = _stage(tmp_path, "resumed")
    checkpoint = tmp_path / "ck/resumed" / CHECKPOINT_FILE
    deadline = time.monotonic() + 600
    while not checkpoint.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert run.poll() is None, "training finished before it could be stopped"
    run.send_signal(signal.SIGTERM)  # the launcher passes it on to torchrun and the ranks
    run.communicate(timeout=120)
    assert run.returncode != 0
    assert not (tmp_path / "resumed" / WEIGHTS_FILE).exists()

    resumed = _stage(tmp_path, "resumed")
    output = resumed.communicate(timeout=600)[0]
    assert resumed.returncode == 0, output
    assert output.count("resumed after epoch") == 1
    assert ((tmp_path / "full" / WEIGHTS_FILE).read_bytes()
            == (tmp_path / "resumed" / WEIGHTS_FILE).read_bytes())
