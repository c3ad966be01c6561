"""Stage hand-over: action → ball transfer, OOF predictions per fold, the action task's labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ballspot.core.errors import BallspotError
from ballspot.data.soccernet import Annotation, DatasetSpec, HalfVideo, write_labels
from ballspot.model.frames import StackIndexes
from ballspot.model.stacker import ModelConfig, build_model, load_transfer_weights
from ballspot.pipeline.training import action_classes, load_action_videos, oof_predictions
from ballspot.predict.postprocess import save_raw_predictions
from ballspot.train.sampling import (
    TrainSampler,
    annotation_sampling_weights,
    effective_number_weights,
)

SMALL = {"model_name": "mobilenetv3_small_050", "num_3d_blocks": 1, "num_3d_features": 24,
         "expansion_3d_ratio": 2, "se_reduce_3d_ratio": 8, "num_3d_stack_proj": 16}


def test_action_to_ball_transfer_keeps_everything_but_the_classifier() -> None:
    torch.manual_seed(0)
    action = build_model(ModelConfig(num_classes=7, num_frames=6, **SMALL))
    ball = build_model(ModelConfig(num_classes=2, num_frames=6, **SMALL))
    skipped = load_transfer_weights(ball, action.state_dict())
    assert skipped == ["classifier.weight", "classifier.bias"]
    for key, value in action.state_dict().items():
        if not key.startswith("classifier."):
            assert torch.equal(ball.state_dict()[key], value), key


def _spec(tmp_path: Path) -> DatasetSpec:
    return DatasetSpec.from_params({
        "root": str(tmp_path), "task": "t", "label_file": "Labels-ball.json",
        "classes": ["PASS", "DRIVE"], "halves": [1, 2], "resolution": "224p",
        "folds": {"0": ["l/s/a", "l/s/b"], "1": ["l/s/c"]}, "test_folds": [1]})


def _half(game: str, half: int, frames: int = 100) -> HalfVideo:
    return HalfVideo(game, half, Path(f"{game}/{half}.mkv"), frames, 25.0, 96, 64,
                     [Annotation(half, 20, "PASS"), Annotation(half, 70, "DRIVE")])


def test_oof_predictions_come_from_the_fold_that_held_the_game_out(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    oof = tmp_path / "oof"
    for fold, game in ((0, "l/s/a"), (0, "l/s/b"), (1, "l/s/c")):
        for half in (1, 2):
            value = fold * 10 + half + ord(game[-1]) / 1000
            save_raw_predictions(oof / f"fold_{fold}" / game / f"{half}_raw_predictions.npz",
                                 np.arange(5, 95), np.full((90, 2), value, np.float32))
    videos = [_half("l/s/c", 2), _half("l/s/a", 1)]
    found = oof_predictions(spec, videos, oof)
    assert found[0][1][0, 0] == pytest.approx(12 + ord("c") / 1000)
    assert found[1][1][0, 0] == pytest.approx(1 + ord("a") / 1000)
    with pytest.raises(BallspotError, match="in no fold"):
        oof_predictions(spec, [_half("l/s/z", 1)], oof)
    with pytest.raises(BallspotError, match="not found"):
        oof_predictions(_spec(tmp_path), [_half("l/s/b", 1)], tmp_path / "elsewhere")


def test_oof_false_positives_draw_the_background_samples() -> None:
    video = _half("l/s/a", 1, frames=200)
    frames = np.arange(8, 192)
    raw = np.full((len(frames), 2), 0.01, np.float32)
    raw[150 - 8, 1] = 0.9  # a confident false positive far from both actions
    stack = StackIndexes(6, 2)
    plain = annotation_sampling_weights(video, 9, 0.5, 27)
    hard = annotation_sampling_weights(video, 9, 0.5, 27, (frames, raw))
    assert hard[150] > 5 * plain[150]
    assert hard[20] == pytest.approx(plain[20])  # action windows keep their mass

    centre_of = {tuple(stack.make(c)): c for c in range(200)}

    def near_150(weights: np.ndarray) -> int:
        sampler = TrainSampler([200], [weights], stack, None, seed=3, epoch_size=400)
        return sum(centre_of[tuple(ix)] == 150 for _, ix in sampler.epoch(0))

    assert near_150(hard) > 3 * near_150(plain)


def test_action_videos_keep_visible_labels_and_merge_cards(tmp_path: Path) -> None:
    from ballspot.data.encoder import VideoWriter

    spec = DatasetSpec.from_params({
        "root": str(tmp_path), "task": "action", "label_file": "Labels-v2.json",
        "classes": ["Corner", "Yellow card", "Red card", "Goal"], "halves": [1],
        "resolution": "224p"})
    game = "l/s/g"
    folder = spec.game_dir(game)
    folder.mkdir(parents=True)
    with VideoWriter(folder / "1_224p.mkv", 64, 48, fps=25) as writer:
        for i in range(30):
            writer.write(np.full((48, 64, 3), i * 8, np.uint8))
    write_labels(spec.label_path(game), game, [
        Annotation(1, 2, "Corner"), Annotation(1, 5, "Yellow card"),
        Annotation(1, 8, "Red card"), Annotation(1, 11, "Goal", visibility="not shown"),
        Annotation(1, 14, "Offside")], spec.fps)
    (half,) = load_action_videos(spec, [game])
    assert [(a.frame, a.label) for a in half.annotations] == [
        (2, "Corner"), (5, "Card"), (8, "Card")]
    assert action_classes(spec.classes) == ["Corner", "Card", "Goal"]


def test_effective_number_weights_favour_rare_classes_and_sum_to_one() -> None:
    weights = effective_number_weights({"rare": 3, "common": 300, "none": 0}, beta=0.999)
    assert sum(weights.values()) == pytest.approx(1.0)
    assert weights["rare"] > 20 * weights["common"]
    assert weights["none"] == 0.0
    # β → 0 gives equal weights whatever the counts
    assert effective_number_weights({"a": 1, "b": 50}, beta=0.0) == {"a": 0.5, "b": 0.5}
