"""Clip indexes, frame jitter, sampling weights and the train/validation samplers (original:
lRomul/ball-action-spotting@9c47153 src/indexes.py, src/datasets.py:85-145,
src/ball_action/annotations.py:118-162)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ballspot.data.soccernet import Annotation, HalfVideo
from ballspot.model.frames import StackIndexes
from ballspot.train.sampling import (
    FrameIndexShaker,
    TrainSampler,
    ValidationSampler,
    annotation_sampling_weights,
    empty_action_midpoints,
    sample_rng,
    video_sampling_weights,
)

ACTION_WINDOW = {4, 5, 6, 13, 14, 15}


def test_stack_indexes_reach_behind_and_ahead_of_the_centre():
    assert (StackIndexes(15, 2).behind, StackIndexes(15, 2).ahead) == (14, 14)
    assert (StackIndexes(33, 2).behind, StackIndexes(33, 2).ahead) == (32, 32)
    assert (StackIndexes(4, 3).behind, StackIndexes(4, 3).ahead) == (6, 3)
    assert StackIndexes(15, 2).make(100) == list(range(86, 115, 2))
    assert StackIndexes(4, 3).make(10) == [4, 7, 10, 13]


def test_clip_keeps_the_clip_and_its_save_zone_inside_the_video():
    stack = StackIndexes(15, 2)
    assert stack.clip(0, 100, save_zone=2) == 16
    assert stack.clip(16, 100, save_zone=2) == 16
    assert stack.clip(50, 100, save_zone=2) == 50
    assert stack.clip(99, 100, save_zone=2) == 100 - 14 - 2 - 1
    assert stack.clip(83, 100, save_zone=2) == 83
    assert stack.clip(84, 100, save_zone=2) == 83
    with pytest.raises(ValueError, match="too short"):
        stack.clip(10, 30, save_zone=1)


def test_shaker_with_zero_probability_keeps_indexes():
    shaker = FrameIndexShaker(prob=0.0)
    rng = np.random.default_rng(0)
    assert shaker(list(range(0, 30, 2)), rng) == list(range(0, 30, 2))


def test_shaker_shakes_a_quarter_of_clips_and_forty_percent_of_their_frames():
    shaker = FrameIndexShaker()
    rng = np.random.default_rng(1)
    base = np.arange(10, 40, 2)
    shaken_clips, moved_frames = 0, 0
    for _ in range(4000):
        diff = np.asarray(shaker(base.tolist(), rng)) - base
        assert set(diff.tolist()) <= {-1, 0, 1}
        if diff.any():
            shaken_clips += 1
            moved_frames += int((diff != 0).sum())
    assert shaken_clips / 4000 == pytest.approx(0.25, abs=0.03)
    assert moved_frames / (shaken_clips * len(base)) == pytest.approx(0.4, abs=0.03)


def test_weights_worked_example_without_predictions():
    w = video_sampling_weights(20, [5, 14], action_window_size=3, action_prob=0.5)
    for f in range(20):
        assert w[f] == pytest.approx(1 / 12 if f in ACTION_WINDOW else 1 / 28)
    assert w.sum() == pytest.approx(1.0)


def test_weights_worked_example_with_predictions_and_clear_band():
    raw = np.full(20, 0.05)
    raw[[9, 10, 3, 16]] = [0.9, 0.6, 0.5, 0.8]
    # two classes: the max over classes is used
    raw2 = np.stack([raw, np.full(20, 0.01)], axis=1)
    w = video_sampling_weights(20, [5, 14], 3, 0.5, clear_pred_window_size=7,
                               predictions=(np.arange(20), raw2))
    background = [f for f in range(20) if f not in ACTION_WINDOW | {9, 10}]
    assert 3 in background and 16 in background
    np.testing.assert_allclose(w[background], 0.0323, atol=5e-5)
    assert w[9] == pytest.approx(0.0677, abs=5e-5)
    assert w[10] == pytest.approx(0.0452, abs=5e-5)
    np.testing.assert_allclose(w[sorted(ACTION_WINDOW)], 1 / 12)
    assert w.sum() == pytest.approx(1.0)


def test_predictions_covering_part_of_the_video_raise_only_their_frames():
    raw = np.array([0.9, 0.01, 0.01])
    w = video_sampling_weights(20, [5, 14], 3, 0.5, predictions=(np.array([9, 10, 11]), raw))
    assert w[9] > w[0] and w[10] == w[11] == w[0]
    assert w.sum() == pytest.approx(1.0)


def test_action_weights_weigh_each_class_and_take_the_max_on_shared_frames():
    video = HalfVideo("g", 1, Path("v.mkv"), 40, 25.0, 398, 224, [
        Annotation(1, 10, "Goal"), Annotation(1, 10, "Corner"), Annotation(1, 30, "Corner")])
    w = annotation_sampling_weights(video, 3, 0.5, action_weights={"Goal": 0.08, "Corner": 0.035})
    assert w[9] == w[10] == w[11] == pytest.approx(w[30] * 0.08 / 0.035)
    # the background carries the same total mass as the actions at action_prob 0.5
    actions = [9, 10, 11, 29, 30, 31]
    assert w[actions].sum() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no action weight"):
        annotation_sampling_weights(video, 3, 0.5, action_weights={"Goal": 0.08})


def test_video_without_actions_gets_uniform_weights():
    np.testing.assert_allclose(video_sampling_weights(10, [], 3, 0.5), 0.1)


def test_clear_window_smaller_than_action_window_is_rejected():
    with pytest.raises(ValueError, match="clear_pred_window_size"):
        video_sampling_weights(20, [5], 9, 0.5, clear_pred_window_size=7)


def _two_videos() -> tuple[list[int], list[list[int]]]:
    return [1000, 600], [[100, 300, 500, 800], [200, 400]]


def _train_sampler(action_prob: float = 0.5, shaker: FrameIndexShaker | None = None,
                   **kwargs) -> TrainSampler:
    counts, actions = _two_videos()
    weights = [video_sampling_weights(n, a, 9, action_prob)
               for n, a in zip(counts, actions, strict=True)]
    return TrainSampler(counts, weights, StackIndexes(15, 2), shaker, **kwargs)


def test_train_sampler_centres_action_prob_of_clips_near_actions():
    sampler = _train_sampler(action_prob=0.5, seed=3, epoch_size=4000)
    _, actions = _two_videos()
    near = 0
    for video, indexes in sampler.epoch(0):
        centre = indexes[7]
        near += any(abs(centre - a) <= 4 for a in actions[video])
    assert near / 4000 == pytest.approx(0.5, abs=0.03)


def test_train_sampler_is_reproducible_and_independent_of_draw_order():
    a = _train_sampler(shaker=FrameIndexShaker(), seed=7, epoch_size=50)
    b = _train_sampler(shaker=FrameIndexShaker(), seed=7, epoch_size=50)
    forward = [a.sample(2, i) for i in range(50)]
    backward = [b.sample(2, i) for i in reversed(range(50))][::-1]
    assert forward == backward
    assert forward != [a.sample(3, i) for i in range(50)]
    assert forward != [_train_sampler(shaker=FrameIndexShaker(), seed=8).sample(2, i)
                       for i in range(50)]


def test_train_sampler_picks_halves_uniformly_or_by_length():
    uniform = _train_sampler(seed=1, epoch_size=3000)
    by_length = _train_sampler(seed=1, epoch_size=3000, video_choice="length")
    share_uniform = np.mean([v == 0 for v, _ in uniform.epoch(0)])
    share_length = np.mean([v == 0 for v, _ in by_length.epoch(0)])
    assert share_uniform == pytest.approx(0.5, abs=0.03)
    assert share_length == pytest.approx(1000 / 1600, abs=0.03)


def test_shaken_clips_stay_inside_the_video_even_at_its_edges():
    counts = [40]
    weights = [np.r_[0.5, np.zeros(38), 0.5]]  # only the first and last frames
    shaker = FrameIndexShaker(prob=1.0)
    sampler = TrainSampler(counts, weights, StackIndexes(15, 2), shaker, seed=0, epoch_size=300)
    assert sampler.save_zone == 2
    seen = [i for _, idx in sampler.epoch(0) for i in idx]
    assert min(seen) >= 1 and max(seen) <= 38
    assert min(seen) == 1 and max(seen) == 38  # the save zone minus the jitter


def test_sample_rng_depends_on_seed_epoch_and_index():
    draws = {sample_rng(s, e, i).random() for s in (0, 1) for e in (0, 1) for i in (0, 1)}
    assert len(draws) == 8


def test_empty_midpoints_sit_between_consecutive_actions():
    assert empty_action_midpoints([10, 20, 21, 31, 20]) == [15, 26]


def test_validation_sampler_visits_actions_and_empty_midpoints_in_order():
    stack = StackIndexes(15, 2)
    sampler = ValidationSampler([200, 100], [[150, 50, 100, 101], [10]], stack)
    centres = [(v, idx[7]) for v, idx in (sampler.sample(k) for k in range(len(sampler)))]
    # video 0: 50, 75 (EMPTY), 100, 101, 125 (EMPTY), 150; video 1: 10 clipped to 14 + 1
    assert centres == [(0, 50), (0, 75), (0, 100), (0, 101), (0, 125), (0, 150), (1, 15)]
    without = ValidationSampler([200], [[50, 100]], stack, add_empty_actions=False)
    assert len(without) == 2


def test_validation_sampler_from_videos_uses_annotation_frames():
    video = HalfVideo("g", 1, Path("v.mkv"), 200, 25.0, 398, 224,
                      [Annotation(1, 40, "PASS"), Annotation(1, 40, "DRIVE"),
                       Annotation(1, 60, "PASS")])
    sampler = ValidationSampler.from_videos([video], StackIndexes(15, 2))
    assert [sampler.sample(k)[1][7] for k in range(len(sampler))] == [40, 50, 60]
