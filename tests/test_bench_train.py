"""`ballspot bench train`: timed optimiser steps of a stage's settings on a real encoded video."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest
import yaml

from ballspot.bench.train import bench_train, parse_size, register
from ballspot.core.errors import BallspotError

REPO = Path(__file__).resolve().parents[1]


def tiny_params(tmp_path: Path) -> Path:
    """The repository's params with a tiny model, batch 2 and in-process decoding."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["dataset"]["root"] = str(tmp_path / "absent")  # no dataset: the video is generated
    params["model"].update(model_name="mobilenetv3_small_050", num_3d_blocks=1,
                           num_3d_features=24, expansion_3d_ratio=2, se_reduce_3d_ratio=8,
                           num_3d_stack_proj=16)
    params["train_basic"].update(frame_stack_size=6, batch_size=2, num_workers=0,
                                 train_epoch_size=300)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def test_bench_train_times_steps_and_projects_the_epoch(
        tmp_path: Path, one_torch_thread: None, capsys: pytest.CaptureFixture[str]) -> None:
    params = tiny_params(tmp_path)
    result = bench_train("train_basic", params, steps=2, device="cpu", size=(64, 48),
                         seconds=2.0, compare_paper=True)
    assert result["steps"] == 2 and result["batch_size"] == 2
    assert (result["pad_width"], result["pad_height"]) == (64, 64)  # next multiples of 32
    assert result["samples_per_s"] == pytest.approx(2 * 2 / (2 * result["s_per_step"]))
    assert result["epoch_s"] == pytest.approx(math.ceil(300 / 2) * result["s_per_step"])
    assert result["compute_s_per_step"] > 0
    assert (result["compute_s_per_step"] + result["loader_wait_s_per_step"]
            <= result["s_per_step"] * 1.01)
    out = capsys.readouterr().out
    assert "samples/s" in out and "one epoch of 300 samples" in out
    assert "7 min 10 s per 6000-sample epoch" in out
    assert "generated" in out and "64x48" in out


def test_cli_bench_train_runs_and_rejects_a_bad_size(
        tmp_path: Path, one_torch_thread: None, capsys: pytest.CaptureFixture[str]) -> None:
    params = tiny_params(tmp_path)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="bench"))
    args = parser.parse_args(["train", "--params", str(params), "--steps", "1",
                              "--device", "cpu", "--size", "64x48", "--batch-size", "1",
                              "--seconds", "2"])
    args.func(args)
    assert "batch 1" in capsys.readouterr().out
    with pytest.raises(BallspotError, match="--size must look like 1280x720"):
        parse_size("1280*720")
