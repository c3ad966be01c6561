"""The whole DAG on tiny params: `dvc repro` runs every stage through to the submission zip, a
second run is a no-op, weights hand over between stages, a remote round trip skips training, and
`dvc exp run -S` re-runs only what depends on the changed key."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest
import torch
from conftest import REPO, tiny_params, write_params
from conftest import run_tool as _run
from safetensors.torch import load_file

STAGE_METRICS = ("basic", "tuning", "finetune")
pytestmark = pytest.mark.dag  # minutes: one tiny `dvc repro` shared by the module's tests


def _ran(output: str) -> list[str]:
    return sorted(line.split("'")[1] for line in output.splitlines() if "Running stage" in line)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("dag") / "project"
    work.mkdir()
    for name in ("ballspot", "stages"):
        shutil.copytree(REPO / name, work / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".gitignore", "models/pretrained/README.md"):
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, work / name)
    write_params(work, tiny_params())
    _run(["git", "init", "-q"], work)
    _run(["git", "config", "user.email", "ci@ballspot"], work)
    _run(["git", "config", "user.name", "ci"], work)
    _run(["dvc", "init", "-q"], work)
    shutil.copy(REPO / ".dvcignore", work / ".dvcignore")
    _run(["dvc", "config", "core.autostage", "true"], work)
    _run(["dvc", "remote", "add", "-d", "local", "../remote"], work)
    _run(["git", "add", "-A"], work)
    _run(["git", "commit", "-qm", "tiny project"], work)
    # every test starts from the reproduced DAG, whichever runs first
    _run(["dvc", "repro"], work)
    return work


def test_dvc_repro_runs_every_stage_then_is_a_no_op(project: Path) -> None:
    for stage in STAGE_METRICS:
        metrics = json.loads((project / f"metrics/{stage}/oof.json").read_text())
        assert set(metrics) == {"cv", "test", "fold_0", "fold_1", "chance"}
        for scores in metrics.values():
            assert set(scores) >= {"mAP", "PASS", "DRIVE"}
            assert 0.0 <= scores["mAP"] <= 1.0
        assert metrics["chance"]["draws"] == tiny_params()["evaluate"]["chance_draws"]
    challenge_metrics = json.loads((project / "metrics/challenge.json").read_text())
    challenge = challenge_metrics["challenge"]
    assert 0.0 <= challenge["mAP"] <= 1.0
    assert 0.0 <= challenge_metrics["chance"]["mAP"] <= 1.0
    game = tiny_params()["dataset"]["challenge"][0]
    with zipfile.ZipFile(project / "submission/results_spotting.zip") as zf:
        assert zf.namelist() == [f"{game}/results_spotting.json"]
    for fold in (0, 1):
        for stage in ("basic", "tuning", "finetune"):
            assert (project / f"models/{stage}/fold_{fold}/model.safetensors").is_file()
        assert (project / f"data/predictions/finetune/challenge/fold_{fold}/{game}"
                / "1_raw_predictions.npz").is_file()
    assert (project / "models/action/model.safetensors").is_file()
    assert (project / "metrics/action/train/curves.png").is_file()

    again = _run(["dvc", "repro"], project)
    assert "didn't change, skipping" in again and "Running stage" not in again
    assert "up to date" in _run(["dvc", "status"], project)
    shown = json.loads(_run(["dvc", "metrics", "show", "--json"], project))
    files = next(iter(shown.values()))["data"]
    assert {"metrics/basic/oof.json", "metrics/tuning/oof.json", "metrics/finetune/oof.json",
            "metrics/challenge.json"} <= set(files)


def test_weights_hand_over_and_the_frozen_encoder_stays_bit_identical(project: Path) -> None:
    for fold in (0, 1):
        tuning = load_file(project / f"models/tuning/fold_{fold}/model.safetensors")
        finetune = load_file(project / f"models/finetune/fold_{fold}/model.safetensors")
        encoder = [k for k in tuning if k.startswith("conv2d_encoder.")]
        assert encoder and any("running_mean" in k for k in encoder)
        for key in encoder:  # weights and BatchNorm statistics alike
            assert torch.equal(tuning[key], finetune[key]), key
        assert tuning["classifier.bias"].shape == finetune["classifier.bias"].shape
        assert tuning["classifier.weight"].shape != finetune["classifier.weight"].shape
        assert not torch.equal(tuning["conv3d_encoder.0.conv_pw.weight"],
                               finetune["conv3d_encoder.0.conv_pw.weight"])
    action = load_file(project / "models/action/model.safetensors")
    assert action["classifier.weight"].shape[0] == len(tiny_params()["action_dataset"]["classes"])


def test_remote_round_trip_skips_every_stage_in_a_fresh_clone(project: Path) -> None:
    _run(["git", "add", "-A"], project)
    _run(["git", "commit", "-qm", "trained"], project)
    _run(["dvc", "push"], project)
    remote = project.parent / "remote"
    assert remote.is_dir()
    pushed = {p.parent.name + p.name for p in remote.rglob("*") if p.is_file()}
    videos = {hashlib.md5(p.read_bytes()).hexdigest()
              for p in (project / "data/soccernet").rglob("*.mkv")}
    assert videos and videos <= pushed  # the videos too: a fresh clone renders nothing

    clone = project.parent / "clone"
    _run(["git", "clone", "-q", str(project), str(clone)], project.parent)
    assert not (clone / "data/soccernet").exists()
    out = _run(["dvc", "repro", "--pull"], clone)
    assert _ran(out) == [], out
    assert "Pulling data for stage: 'train_basic@0'" in out
    assert (clone / "models/finetune/fold_0/model.safetensors").is_file()
    assert (clone / "submission/results_spotting.zip").read_bytes() == (
        project / "submission/results_spotting.zip").read_bytes()
    assert "Data and pipelines are up to date" in _run(["dvc", "status"], clone)


def test_a_local_weights_file_is_a_training_dependency(project: Path) -> None:
    folder = project / "models/pretrained/tf_efficientnetv2_b0.in1k"
    (folder / ".cache").mkdir(parents=True)
    (folder / ".cache" / "model.safetensors.metadata").write_text("download bookkeeping")
    assert "up to date" in _run(["dvc", "status"], project)
    (folder / "model.safetensors").write_bytes(b"weights")
    stale = _run(["dvc", "status"], project)
    # the stages that build a fresh 2D encoder; S3 and S4 start from their models
    assert {"train_basic@0:", "train_basic@1:", "train_action:"} <= set(stale.split())
    assert "train_tuning@0:" not in stale.split()
    shutil.rmtree(folder)
    assert "up to date" in _run(["dvc", "status"], project)


def test_a_postprocess_change_reruns_only_evaluation(project: Path) -> None:
    _run(["git", "add", "-A"], project)
    _run(["git", "commit", "-qm", "tiny", "--allow-empty"], project)
    out = _run(["dvc", "exp", "run", "-S", "postprocess.height=0.3"], project)
    post = {"ensemble", "evaluate_basic", "evaluate_finetune", "evaluate_tuning"}
    # the zip and its score follow only if the ensemble's results changed
    assert post <= set(_ran(out)) <= post | {"submission", "score_challenge"}


def test_a_training_change_reruns_only_its_stage_and_what_follows(project: Path) -> None:
    out = _run(["dvc", "exp", "run", "-S", "train_finetune.base_lr=0.002"], project)
    assert _ran(out) == sorted([
        "train_finetune@0", "train_finetune@1", "predict_cv@0", "predict_cv@1",
        "predict_challenge@0", "predict_challenge@1", "evaluate_finetune", "ensemble",
        "submission", "score_challenge"])
    shown = _run(["dvc", "exp", "show", "--no-pager", "--md"], project)
    assert "metrics/finetune/oof.json" in shown or "cv.mAP" in shown


def test_generalise_scores_the_fold_ensemble_on_games_of_another_seed(project: Path) -> None:
    out = _run(["ballspot", "generalise", "--seed", "5", "--games", "1", "--quiet",
                "--output", "generalise.json"], project)
    assert "seed 5: mAP@1" in out and "2 models" in out
    rows = json.loads((project / "generalise.json").read_text())
    assert [r["seed"] for r in rows] == [5] and rows[0]["games"] == 1
    assert 0.0 <= rows[0]["mAP"] <= 1.0 and {"PASS", "DRIVE"} <= set(rows[0])
    assert sum(rows[0]["events"].values()) > 0
    (project / "generalise.json").unlink()


def test_diagnose_sorts_every_peak_and_event_of_the_out_of_fold_predictions(project: Path
                                                                            ) -> None:
    out = _run(["ballspot", "diagnose", "--predictions", "data/predictions/finetune/cv",
                "--output", "diagnosis.json"], project)
    report = json.loads((project / "diagnosis.json").read_text())
    (project / "diagnosis.json").unlink()
    results = [json.loads(p.read_text())["predictions"]
               for p in (project / "data/results/finetune/cv").rglob("results_spotting.json")]
    labels = [json.loads((project / "data/soccernet" / tiny_params()["dataset"]["task"] / game
                          / "Labels-ball.json").read_text())["annotations"]
              for fold in tiny_params()["dataset"]["folds"].values() for game in fold]
    for label, row in report["classes"].items():
        # the same peaks the evaluation stage wrote, each of one kind
        assert sum(row["peaks"].values()) == sum(
            1 for game in results for p in game if p["label"] == label), label
        assert sum(row["events"].values()) == sum(
            1 for game in labels for a in game if a["label"] == label), label
        # synthetic games: every peak that is not a true one has a ball state
        assert sum(row["ball"].values()) == sum(v for k, v in row["peaks"].items()
                                                if k != "true"), label
        assert f"{label}: " in out


def test_a_change_to_decoding_makes_every_stage_that_decodes_out_of_date(project: Path) -> None:
    video = project / "ballspot/data/video.py"
    original = video.read_text()
    try:
        video.write_text(original + "\n# a change to how frames are decoded\n")
        stale = json.loads(_run(["dvc", "status", "--json"], project))
    finally:
        video.write_text(original)
    decoding = {"data", "train_action", *(f"{stage}@{k}" for k in (0, 1) for stage in (
        "train_basic", "predict_oof", "train_tuning", "predict_tuning", "train_finetune",
        "predict_cv", "predict_challenge"))}
    assert decoding <= set(stale), sorted(decoding - set(stale))
    assert "up to date" in _run(["dvc", "status"], project)


@pytest.mark.slow  # three interrupted and resumed tiny DAGs: several minutes
def test_a_repro_killed_at_any_point_resumes_to_the_same_lock(
        project: Path, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    import yaml

    want = yaml.safe_load((project / "dvc.lock").read_text())
    for kill_after in (8.0, 25.0, 50.0):
        work = tmp_path / f"killed_{kill_after:g}"
        shutil.copytree(project, work, symlinks=True)
        env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PYTHONPATH": str(work),
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        proc = subprocess.Popen(["dvc", "repro", "--force"], cwd=work, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        time.sleep(kill_after)
        os.killpg(proc.pid, signal.SIGKILL)  # dvc and the stage it runs, mid-write
        proc.wait()
        _run(["dvc", "repro"], work)
        assert yaml.safe_load((work / "dvc.lock").read_text()) == want, kill_after
        assert "up to date" in _run(["dvc", "status"], work)
        shutil.rmtree(work)
