"""Profiles: the paper settings (the four configs of lRomul/ball-action-spotting@9c47153) and
the 2024 task are one `ballspot profile apply` away."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
import yaml

from ballspot.app.profiles import (
    applied_profiles,
    apply_profiles,
    merge,
    register,
    write_profiles,
)
from ballspot.core.errors import BallspotError
from ballspot.core.params import load_params
from ballspot.data.download import DownloadConfig
from ballspot.data.soccernet import DatasetSpec
from ballspot.eval.metric import BALL_2024_CLASSES
from ballspot.pipeline.schema import TRAIN_STAGES, stage_values
from ballspot.pipeline.training import (
    action_classes,
    model_config,
    stage_config,
)
from ballspot.train.augment import Augmentations
from ballspot.train.config import TrainConfig

REPO = Path(__file__).resolve().parents[1]
PARAMS = REPO / "params.yaml"
PROFILES = REPO / "profiles"

# The four original configs (lRomul/ball-action-spotting@9c47153 configs/), written out
# independently of profiles/paper.yaml.
COMMON = {
    "image_size": (1280, 736), "batch_size": 4, "max_targets_window_size": 15,
    "frame_stack_step": 2, "amp": True, "compile": True, "device": "cuda",
    "shaker": {"shifts": [-1, 0, 1], "weights": [0.2, 0.6, 0.2], "prob": 0.25},
    "action_window_size": 9, "action_prob": 0.5, "focal_gamma": 1.2, "num_workers": 4,
}
TABLE: dict[str, dict[str, Any]] = {
    "train_basic": {  # sampling_weights_001
        "frame_stack_size": 15, "freeze_conv2d_encoder": False, "base_lr": 3e-4,
        "min_base_lr": 3e-6, "optimizer": "adamw", "weight_decay": 0.01, "epochs_warmup": 6,
        "epochs_train": 30, "train_epoch_size": 6000, "ema_decay": 0.999, "focal_alpha": -1.0,
        "clear_pred_window_size": 9, "select_best": False,
    },
    "train_action": {  # action_sampling_weights_002
        "frame_stack_size": 15, "freeze_conv2d_encoder": False, "base_lr": 3e-4,
        "min_base_lr": 3e-6, "optimizer": "adamw", "weight_decay": 0.01, "epochs_warmup": 4,
        "epochs_train": 20, "train_epoch_size": 36000, "ema_decay": 0.9995,
        "focal_alpha": -1.0, "select_best": True,
    },
    "train_tuning": {  # ball_tuning_001
        "frame_stack_size": 15, "freeze_conv2d_encoder": False, "base_lr": 3e-4,
        "min_base_lr": 3e-6, "optimizer": "adamw", "weight_decay": 0.01, "epochs_warmup": 7,
        "epochs_train": 35, "train_epoch_size": 6000, "ema_decay": 0.999, "focal_alpha": 0.4,
        "clear_pred_window_size": 27, "select_best": False,
    },
    "train_finetune": {  # ball_finetune_long_004: SGD without weight decay
        # (original: configs/ball_action/ball_finetune_long_004.py:51-55)
        "frame_stack_size": 33, "freeze_conv2d_encoder": True, "base_lr": 1e-3,
        "min_base_lr": 5e-5, "optimizer": "sgd", "weight_decay": 0.0, "epochs_warmup": 2,
        "epochs_train": 7, "train_epoch_size": 6000, "ema_decay": 0.999, "focal_alpha": 0.4,
        "clear_pred_window_size": 27, "select_best": False,
    },
}
ACTION_WEIGHTS = {  # original: configs/action/action_sampling_weights_002.py:21-37
    "Penalty": 0.244, "Kick-off": 0.197, "Goal": 0.08, "Substitution": 0.06, "Offside": 0.069,
    "Shots on target": 0.028, "Shots off target": 0.03, "Clearance": 0.041,
    "Ball out of play": 0.011, "Throw-in": 0.015, "Foul": 0.017, "Indirect free-kick": 0.028,
    "Direct free-kick": 0.077, "Corner": 0.035, "Card": 0.07,
}
ACTION_CLASSES = [  # target order of the original's src/action/constants.py:56-72
    "Penalty", "Kick-off", "Goal", "Substitution", "Offside", "Shots on target",
    "Shots off target", "Clearance", "Ball out of play", "Throw-in", "Foul",
    "Indirect free-kick", "Direct free-kick", "Corner", "Card",
]
EFL = "england_efl/2019-2020/"
FOLD_GAMES = [  # fold k = game k (original: src/ball_action/constants.py:11-20)
    "2019-10-01 - Leeds United - West Bromwich", "2019-10-01 - Hull City - Sheffield Wednesday",
    "2019-10-01 - Brentford - Bristol City", "2019-10-01 - Blackburn Rovers - Nottingham Forest",
    "2019-10-01 - Middlesbrough - Preston North End",
    "2019-10-01 - Stoke City - Huddersfield Town", "2019-10-01 - Reading - Fulham",
]
CHALLENGE = ["2019-10-02 - Cardiff City - Queens Park Rangers",
             "2019-10-01 - Wigan Athletic - Birmingham City"]
MODEL = {  # original: configs/ball_action/sampling_weights_001.py:30-45
    "model_name": "tf_efficientnetv2_b0", "stack_size": 3, "index_2d_features": 4,
    "num_3d_blocks": 4, "num_3d_features": 192, "expansion_3d_ratio": 3,
    "se_reduce_3d_ratio": 24, "num_3d_stack_proj": 256, "drop_rate": 0.2,
    "drop_path_rate": 0.2, "act_layer": "silu",
}


@pytest.fixture(scope="module")
def paper() -> dict[str, Any]:
    return apply_profiles(["paper"], PARAMS, PROFILES)[0]


@pytest.fixture(scope="module")
def task_2024() -> dict[str, Any]:
    return apply_profiles(["2024"], PARAMS, PROFILES)[0]


@pytest.mark.parametrize("stage", list(TABLE))
def test_paper_profile_gives_every_table_value_of_the_stage(paper: dict[str, Any],
                                                            stage: str) -> None:
    config = TrainConfig.from_params(paper[stage])
    for key, expected in {**COMMON, **TABLE[stage]}.items():
        value = getattr(config, key)
        if isinstance(expected, float):
            assert value == pytest.approx(expected, rel=1e-12), (stage, key)
        else:
            assert value == expected, (stage, key)
    assert Augmentations.from_params(config.augment).params == Augmentations().params


def test_paper_profile_gives_the_action_stage_its_classes_and_weights(
        paper: dict[str, Any]) -> None:
    spec = DatasetSpec.from_params(paper["action_dataset"])
    assert len(spec.classes) == 17
    assert {"Yellow card", "Red card", "Yellow->red card"} <= set(spec.classes)
    assert action_classes(spec.classes) == ACTION_CLASSES
    weights = TrainConfig.from_params(paper["train_action"]).action_weights
    assert dict(weights) == pytest.approx(ACTION_WEIGHTS)
    assert spec.resolution == "720p" and spec.video_stem(2) == "2_720p"
    train, val = paper["action_dataset"]["train_games"], paper["action_dataset"]["val_games"]
    assert (len(train), len(set(train)), len(val), len(set(val))) == (377, 377, 18, 18)
    assert not set(train) & set(val)


def test_paper_profile_is_the_real_ball_dataset_and_model(paper: dict[str, Any]) -> None:
    spec = DatasetSpec.from_params(paper["dataset"])
    assert spec.folds == tuple((EFL + game,) for game in FOLD_GAMES)
    assert spec.test_folds == (5, 6)
    assert spec.challenge == tuple(EFL + game for game in CHALLENGE)
    assert (spec.task, spec.classes, spec.halves) == ("spotting-ball-2023", ("PASS", "DRIVE"),
                                                      (1, 2))
    assert spec.video_stem(1) == "1_720p"
    assert paper["data"]["source"] == "soccernet"
    download = DownloadConfig.from_params(paper["data"]["download"])
    assert download.action_files == ("Labels-v2.json", "1_720p.mkv", "2_720p.mkv")
    for stage, frames in (("train_basic", 15), ("train_finetune", 33)):
        config = model_config(paper, paper[stage], 2)
        assert {k: getattr(config, k) for k in MODEL} == MODEL
        assert config.num_frames == frames
    assert paper["predict"]["device"] == "cuda" and paper["predict"]["tta"] is True


def test_2024_profile_gives_twelve_classes_and_one_video_per_game(
        task_2024: dict[str, Any]) -> None:
    spec = DatasetSpec.from_params(task_2024["dataset"])
    assert spec.classes == BALL_2024_CLASSES and len(spec.classes) == 12
    assert spec.halves == (1,)
    assert spec.task == "spotting-ball-2024"
    assert spec.video_stem(1) == "720p"  # <game>/720p.mp4
    assert len(spec.folds) == 7 and spec.test_folds == (5, 6)
    assert task_2024["train_basic"]["image_size"] == [1280, 736]  # extends paper


@pytest.mark.parametrize("profile", ["paper", "2024"])
def test_merged_params_load_for_every_block(profile: str) -> None:
    params = apply_profiles([profile], PARAMS, PROFILES)[0]
    for stage in TRAIN_STAGES:
        config = stage_config(params, stage, profile)
        model_config(params, stage_values(params, stage), 2)
        Augmentations.from_params(config.augment)
    TrainConfig.from_params(params["train"], profile)  # the shared block alone is valid too
    for block in ("dataset", "action_dataset"):
        DatasetSpec.from_params(params[block])


@pytest.mark.parametrize("overlay, dotted", [
    ({"train_basic": {"base_lrr": 1.0}}, "train_basic.base_lrr"),
    ({"train_tunning": {"base_lr": 1.0}}, "train_tunning"),
    ({"dataset": {"fold": {"0": ["a"]}}}, "dataset.fold"),
    ({"data": {"synthetic": {"widht": 64}}}, "data.synthetic.widht"),
])
def test_unknown_overlay_key_is_one_line_error_naming_the_overlay(
        tmp_path: Path, overlay: dict[str, Any], dotted: str) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(overlay))
    with pytest.raises(BallspotError) as info:
        apply_profiles([str(path)], PARAMS, PROFILES)
    message = str(info.value)
    assert message.startswith(str(path)) and f"'{dotted}'" in message
    assert "\n" not in message


def test_free_form_mappings_replace_the_base_as_a_whole() -> None:
    base = {"dataset": {"folds": {"0": ["a"], "1": ["b"]}, "classes": ["X"]},
            "train_action": {"action_weights": {"A": 1.0, "B": 2.0}, "seed": 1}}
    overlay = {"dataset": {"folds": {"5": ["c"]}},
               "train_action": {"action_weights": {"C": 3.0}}}
    merged = merge(base, overlay, "o.yaml")
    assert merged["dataset"] == {"folds": {"5": ["c"]}, "classes": ["X"]}
    assert merged["train_action"] == {"action_weights": {"C": 3.0}, "seed": 1}
    assert base["dataset"]["folds"] == {"0": ["a"], "1": ["b"]}  # inputs untouched


def test_cli_apply_writes_a_headed_params_file_that_show_prints(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(PARAMS.read_text())
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    common = ["--params", str(params), "--profiles-dir", str(PROFILES)]
    args = parser.parse_args(["profile", "show", "paper", *common])
    args.func(args)
    shown = capsys.readouterr().out
    assert params.read_text() == PARAMS.read_text()  # show writes nothing
    args = parser.parse_args(["profile", "apply", "paper", *common])
    args.func(args)
    text = params.read_text()
    assert text == shown
    assert applied_profiles(text) == ["paper"]
    assert load_params(params) == apply_profiles(["paper"], PARAMS, PROFILES)[0]
    # re-applying is idempotent; a second profile is recorded after the first
    write_profiles(["paper"], params, profiles_dir=PROFILES)
    assert params.read_text() == text
    write_profiles(["2024"], params, profiles_dir=PROFILES)
    assert applied_profiles(params.read_text()) == ["paper", "2024"]
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left nothing behind


def test_missing_profile_names_the_known_ones() -> None:
    with pytest.raises(BallspotError, match=r"no profile 'papr' \(known: .*\bpaper\b"):
        apply_profiles(["papr"], PARAMS, PROFILES)
