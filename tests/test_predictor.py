"""CachedPredictor: equals the full-clip forward per frame, the frame range of the original
(lRomul/ball-action-spotting@9c47153 scripts/ball_action/predict.py:29-55), bounded cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ballspot.core.errors import BallspotError
from ballspot.model.frames import pad_normalize
from ballspot.model.stacker import ModelConfig, build_model
from ballspot.predict.predictor import (
    CachedPredictor,
    centre_grid,
    clip_indexes,
    predict_naive,
    predict_video,
    prediction_range,
)

HEIGHT, WIDTH = 60, 90  # padded to 64x96 with an uneven split, so flips are not symmetric


def random_frames(count: int, seed: int = 0) -> np.ndarray:
    """Noise with a random gain per frame, so that clips differ in more than noise statistics."""
    rng = np.random.default_rng(seed)
    gain = rng.uniform(0.1, 1.0, (count, 1, 1))
    return (rng.integers(0, 256, (count, HEIGHT, WIDTH)) * gain).astype(np.uint8)


def make_model(num_frames: int, dtype: torch.dtype = torch.float64) -> torch.nn.Module:
    """A random-init model whose BN statistics are calibrated on random clips.

    With the default statistics (mean 0, var 1) the eval-mode activations of a random model shrink
    to ~1e-3 and every clip gets the same probability; calibrated, predictions vary per clip. The
    calibrated random network is ill-conditioned (float32 batch-size noise reaches 3e-4 in the
    probabilities), so the exactness tests run in float64.
    """
    torch.manual_seed(num_frames)
    model = build_model(ModelConfig(num_frames=num_frames))
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = None  # cumulative average over the calibration batch
            module.reset_running_stats()
    frames = torch.from_numpy(random_frames(4 * num_frames, seed=99)).reshape(4, num_frames,
                                                                              HEIGHT, WIDTH)
    with torch.no_grad():
        model.train()(pad_normalize(frames))
    return model.eval().to(dtype)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model15() -> torch.nn.Module:
    return make_model(15)


@pytest.fixture(scope="module")
def model15_float32() -> torch.nn.Module:
    return make_model(15, torch.float32)


def test_clip_indexes_and_range_follow_the_stack_generator() -> None:
    assert clip_indexes(100, 15, 2) == list(range(86, 115, 2))
    assert prediction_range(1000, 15, 2) == (15, 984)
    assert prediction_range(1000, 33, 2) == (33, 966)
    assert prediction_range(40, 33, 2)[1] < prediction_range(40, 33, 2)[0]


@pytest.mark.parametrize("tta", [False, True])
def test_cached_predictions_equal_the_full_clip_forward(model15: torch.nn.Module,
                                                        tta: bool) -> None:
    frames = random_frames(42)
    naive_index, naive = predict_naive(model15, frames, 15, 2, tta=tta, batch_frames=8)
    predictor = CachedPredictor(model15, 15, 2, tta=tta, batch_frames=7)
    index, cached = predict_video(predictor, enumerate(torch.from_numpy(frames)), len(frames))
    assert index.dtype == np.int64 and cached.dtype == np.float32
    np.testing.assert_array_equal(index, np.arange(15, 42 - 14 - 1))  # 15 .. num_frames - 16
    np.testing.assert_array_equal(index, naive_index)
    assert cached.shape == (len(index), 2)
    np.testing.assert_allclose(cached, naive, atol=1e-5, rtol=0)
    assert cached.std(0).min() > 0.01  # the comparison is not between saturated constants


def test_float32_predictions_agree_within_float_noise(model15_float32: torch.nn.Module) -> None:
    model = model15_float32
    frames = random_frames(50)
    naive = predict_naive(model, frames, 15, 2, batch_frames=8)[1]
    cached = predict_video(CachedPredictor(model, 15, 2, batch_frames=7), enumerate(frames),
                           len(frames))[1]
    assert cached.dtype == np.float32
    np.testing.assert_allclose(cached, naive, atol=2e-3, rtol=0)
    assert np.abs(cached - naive).mean() < 1e-4


def test_tta_changes_the_prediction(model15_float32: torch.nn.Module) -> None:
    frames = random_frames(40, seed=1)
    model = model15_float32
    plain = predict_video(CachedPredictor(model, 15, 2), enumerate(frames), len(frames))[1]
    tta = predict_video(CachedPredictor(model, 15, 2, tta=True), enumerate(frames), len(frames))[1]
    assert np.abs(plain - tta).max() > 1e-3


def test_33_frame_model_equals_the_full_clip_forward() -> None:
    model = make_model(33)
    frames = random_frames(74, seed=2)
    naive_index, naive = predict_naive(model, frames, 33, 2, batch_frames=8)
    index, cached = predict_video(CachedPredictor(model, 33, 2, batch_frames=5), enumerate(frames),
                                  len(frames))
    np.testing.assert_array_equal(index, np.arange(33, 74 - 34 + 1))
    np.testing.assert_array_equal(index, naive_index)
    np.testing.assert_allclose(cached, naive, atol=1e-5, rtol=0)


def test_each_stack_is_computed_once_and_the_cache_stays_bounded(
        model15_float32: torch.nn.Module) -> None:
    frames = random_frames(70, seed=3)
    predictor = CachedPredictor(model15_float32, 15, 2, batch_frames=4)
    calls: list[int] = []
    original = model15_float32.forward_2d
    model15_float32.forward_2d = lambda x: (calls.append(x.shape[0]), original(x))[1]
    try:
        largest = 0
        predicted = []
        for index, frame in enumerate(frames):
            predicted.append(predictor.put(index, frame)[0])
            largest = max(largest, len(predictor._frames))
        predicted.append(predictor.flush()[0])
    finally:
        del model15_float32.forward_2d
    centres = np.concatenate(predicted)
    np.testing.assert_array_equal(centres, np.arange(14, 70 - 14))  # every complete clip
    stacks = {tuple(clip_indexes(c, 15, 2)[i:i + 3]) for c in centres for i in range(0, 15, 3)}
    assert sum(calls) == len(stacks)  # no stack recomputed
    assert max(calls) <= 4
    assert largest <= 29 + 4


def test_frames_must_come_in_order_and_without_gaps(model15_float32: torch.nn.Module) -> None:
    frames = random_frames(50, seed=4)
    predictor = CachedPredictor(model15_float32, 15, 2)
    predictor.put(5, frames[5])
    with pytest.raises(ValueError, match="increasing index order"):
        predictor.put(5, frames[5])
    gappy = ((i, f) for i, f in enumerate(frames) if i != 25)
    with pytest.raises(BallspotError, match="half.mkv.*frames missing"):
        predict_video(CachedPredictor(model15_float32, 15, 2), gappy, len(frames),
                      source="half.mkv")


def test_short_video_gives_no_predictions(model15_float32: torch.nn.Module) -> None:
    predictor = CachedPredictor(model15_float32, 15, 2)
    index, predictions = predict_video(predictor, enumerate(random_frames(20)), 20)
    assert index.shape == (0,) and predictions.shape == (0, 2)


def test_wrong_clip_length_is_refused(model15_float32: torch.nn.Module) -> None:
    with pytest.raises(ValueError, match="frame_stack_size=33"):
        CachedPredictor(model15_float32, 33, 2)


def test_centre_grid_keeps_both_ends() -> None:
    assert centre_grid(15, 25, 1) is None
    assert centre_grid(15, 25, 2) == [15, 17, 19, 21, 23, 25]
    assert centre_grid(15, 24, 2) == [15, 17, 19, 21, 23, 24]  # the last is run, not extrapolated
    assert centre_grid(15, 15, 3) == [15]
    assert centre_grid(15, 14, 2) is None  # too short: nothing to run


@pytest.mark.parametrize("step", [2, 3])
def test_centre_step_runs_every_kth_clip_and_interpolates_between(
        model15: torch.nn.Module, step: int) -> None:
    frames = random_frames(61, seed=5)
    full_index, full = predict_video(CachedPredictor(model15, 15, 2, batch_frames=5),
                                     enumerate(frames), len(frames))
    calls: list[int] = []
    original = model15.forward_3d
    model15.forward_3d = lambda x: (calls.append(x.shape[0]), original(x))[1]
    try:
        predictor = CachedPredictor(model15, 15, 2, batch_frames=5, centre_step=step)
        index, sparse = predict_video(predictor, enumerate(frames), len(frames))
    finally:
        del model15.forward_3d
    np.testing.assert_array_equal(index, full_index)  # every centre, as with step 1
    grid = centre_grid(int(index[0]), int(index[-1]), step)
    assert sum(calls) == len(grid) < len(index) / step + 2  # k times fewer clips run
    run = np.searchsorted(index, grid)
    np.testing.assert_allclose(sparse[run], full[run], atol=1e-5, rtol=0)  # the run ones: exact
    for a, b in zip(grid[:-1], grid[1:], strict=True):  # the others: on the line between
        i, j = np.searchsorted(index, [a, b])
        w = (index[i:j + 1] - a)[:, None] / (b - a)
        np.testing.assert_allclose(sparse[i:j + 1], (1 - w) * full[i] + w * full[j], atol=1e-5)
    assert np.abs(sparse - full).max() > 1e-4  # between them, it is an approximation


def test_bad_centre_step_is_refused(model15_float32: torch.nn.Module) -> None:
    with pytest.raises(ValueError, match="centre_step must be >= 1"):
        CachedPredictor(model15_float32, 15, 2, centre_step=0)
