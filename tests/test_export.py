"""ONNX export: the exported encoder and 3D part + head give the PyTorch model's predictions to
1e-4 on a real video (trained model) and on the paper-configured model (random weights); without
the deploy extra the commands say what to install."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from videos import event_frames

from ballspot.app.spot import spot_video
from ballspot.cli import main
from ballspot.core.errors import BallspotError
from ballspot.data.encoder import VideoWriter
from ballspot.deploy.onnx import ONNX_FILES, OnnxNetwork, export_onnx
from ballspot.model.folder import save_model_dir
from ballspot.model.stacker import ModelConfig, build_model
from ballspot.predict.predictor import CachedPredictor, predict_video

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # 2 cores: one intra-op thread

pytest.importorskip("onnxruntime")


def test_onnx_spot_equals_torch_on_a_real_video(model_dir: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("postprocess: {gauss_sigma: 2.0, height: 0.4, "
                                          "distance: 15}\npredict: {tta: true, batch_frames: 8}\n")
    video = tmp_path / "match.mkv"
    with VideoWriter(video, 96, 64, fps=25, gop=25) as writer:
        for frame in event_frames(8, 25, 96, 64, [(2.0, "PASS"), (5.1, "DRIVE")], seed=5):
            writer.write(frame)
    assert main(["export", str(model_dir), "--format", "onnx", "--out", "onnx"]) == 0
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == sorted(ONNX_FILES)
    torch_run = spot_video(video, [model_dir], "a", device="cpu", overlay=False, progress=False)
    onnx_run = spot_video(video, ["onnx"], "b", device="cpu", overlay=False, progress=False,
                          backend="onnxruntime")
    assert np.array_equal(torch_run.frame_indexes, onnx_run.frame_indexes)
    assert np.abs(torch_run.raw_predictions - onnx_run.raw_predictions).max() < 1e-4
    assert [a[:2] for a in onnx_run.actions] == [a[:2] for a in torch_run.actions]
    assert len(torch_run.actions) == 2


def test_the_paper_model_exports_with_equal_outputs(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = ModelConfig(num_frames=15)  # the paper's: tf_efficientnetv2_b0, 4 3D blocks
    model = build_model(config).eval()
    resolved = {"model": config.to_params(), "classes": ["PASS", "DRIVE"],
                "frames": {"image_size": None, "video_size": [160, 96], "frame_stack_size": 15,
                           "frame_stack_step": 2}}
    save_model_dir(tmp_path / "model", model, resolved)
    export_onnx(tmp_path / "model", tmp_path / "onnx")  # checks 1e-4 on random frames itself
    frames = np.random.default_rng(0).integers(0, 256, (60, 96, 160), dtype=np.uint8)
    results = []
    for network in (model, OnnxNetwork(tmp_path / "onnx")):
        predictor = CachedPredictor(network, 15, 2, tta=True, batch_frames=8)
        results.append(predict_video(predictor, enumerate(frames), len(frames)))
    assert np.array_equal(results[0][0], results[1][0])
    assert np.abs(results[0][1] - results[1][1]).max() < 1e-4


def test_without_the_deploy_extra_the_commands_say_what_to_install(
        model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # import fails as if not installed
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert main(["export", str(model_dir), "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["ballspot: error: onnx is not installed; install the deploy extra: "
                   "pip install '.[deploy]'"]
    assert not (tmp_path / "x").exists()
    with pytest.raises(BallspotError, match=r"onnxruntime is not installed.*\[deploy\]"):
        OnnxNetwork(tmp_path)


def test_the_onnx_backend_on_a_pytorch_folder_points_at_the_export(model_dir: Path,
                                                                  tmp_path: Path) -> None:
    video = tmp_path / "v.mkv"
    with VideoWriter(video, 96, 64, fps=25, gop=25) as writer:
        for frame in event_frames(2, 25, 96, 64, [], seed=1):
            writer.write(frame)
    with pytest.raises(BallspotError, match="not an ONNX export.*ballspot export"):
        spot_video(video, [model_dir], tmp_path / "out", device="cpu", overlay=False,
                   progress=False, backend="onnxruntime")
