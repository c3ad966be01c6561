"""Benchmark: cached (batched) prediction against the full-clip forward of every frame.

The cache turns ``num_stacks`` 2D stack forwards per frame into one, so with ``t2d`` the cost of one
2D stack forward and ``t3d`` the cost of the 3D part and head per clip (both doubled with TTA), the
ideal speed-up is ``(num_stacks * t2d + t3d) / (t2d + t3d)``. Both are measured in the batched
regime the predictor uses, then compared with the measured frames/s ratio on the same frames.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from ballspot.model.frames import padded_size
from ballspot.model.stacker import ModelConfig, build_model
from ballspot.predict.predictor import (
    CachedPredictor,
    predict_naive,
    predict_video,
    prediction_range,
)


def _timed(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median wall time of ``fn`` in seconds over ``repeats`` runs, after one warm-up run."""
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_predict(width: int = 160, height: int = 96, num_frames: int = 120,
                  frame_stack_size: int = 15, frame_stack_step: int = 2, tta: bool = False,
                  batch_frames: int = 16, device: str = "cpu", threads: int | None = None,
                  repeats: int = 3, seed: int = 0,
                  model_params: Mapping[str, Any] | None = None,
                  backend: str = "torch") -> dict[str, float]:
    """Measure cached vs naive frames/s on ``num_frames`` random uint8 frames of width x height.

    ``model_params`` overrides :class:`ModelConfig` fields (``num_frames`` follows
    ``frame_stack_size``); the model is random-init, eval mode. ``threads`` sets
    ``torch.set_num_threads`` for the run (restored after). Times are medians of ``repeats`` runs.
    Prints one table and returns its numbers (seconds, frames/s, ratios). ``backend``
    ``onnxruntime`` also exports the model to ONNX and times the same cached prediction through
    onnxruntime, beside PyTorch's.
    """
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _bench(width, height, num_frames, frame_stack_size, frame_stack_step, tta,
                      batch_frames, torch.device(device), repeats, seed, dict(model_params or {}),
                      backend)
    finally:
        torch.set_num_threads(previous_threads)


def _bench(width: int, height: int, num_frames: int, frame_stack_size: int, frame_stack_step: int,
           tta: bool, batch_frames: int, device: torch.device, repeats: int, seed: int,
           model_params: dict[str, Any], backend: str) -> dict[str, float]:
    torch.manual_seed(seed)
    config = ModelConfig.from_params({**model_params, "num_frames": frame_stack_size})
    model = build_model(config).to(device).eval()
    frames = torch.from_numpy(np.random.default_rng(seed).integers(
        0, 256, (num_frames, height, width), dtype=np.uint8))
    first, last = prediction_range(num_frames, frame_stack_size, frame_stack_step)
    predicted = last - first + 1
    if predicted < batch_frames:
        raise ValueError(f"{num_frames} frames give {predicted} predictions, fewer than "
                         f"batch_frames={batch_frames}")
    predictor = CachedPredictor(model, frame_stack_size, frame_stack_step, tta=tta, device=device,
                                batch_frames=batch_frames)
    results: dict[str, np.ndarray] = {}

    def cached() -> None:
        results["cached"] = predict_video(predictor, enumerate(frames), num_frames)[1]

    def naive() -> None:
        results["naive"] = predict_naive(model, frames, frame_stack_size, frame_stack_step,
                                         tta=tta, device=device, batch_frames=batch_frames)[1]

    t_cached = _timed(cached, device, repeats)
    t_naive = _timed(naive, device, repeats)

    # Per-part costs in the batched regime of the predictor: batch_frames stacks / clips at once.
    views = 2 if tta else 1
    pad_h, pad_w = padded_size(height, width)
    stacks_in = torch.rand(batch_frames * views, config.stack_size, pad_h, pad_w, device=device)
    with torch.inference_mode():
        features = model.forward_2d(stacks_in)[:, 0]
        clips_in = features[:, None].expand(-1, config.num_stacks, -1, -1, -1).contiguous()

        def part_2d() -> None:
            model.forward_2d(stacks_in)

        def part_3d() -> None:
            model.forward_head(model.forward_3d(clips_in))

        t2d = _timed(part_2d, device, repeats) / batch_frames  # one stack, all views
        t3d = _timed(part_3d, device, repeats) / batch_frames  # one clip, all views
    theoretical = (config.num_stacks * t2d + t3d) / (t2d + t3d)
    measured = t_naive / t_cached
    report = {
        "frames_predicted": float(predicted),
        "cached_fps": predicted / t_cached,
        "naive_fps": predicted / t_naive,
        "t2d_s": t2d,
        "t3d_s": t3d,
        "theoretical_speedup": theoretical,
        "measured_speedup": measured,
        "efficiency": measured / theoretical,
        "max_abs_diff": float(np.abs(results["cached"] - results["naive"]).max()),
    }
    print(f"predict bench: {width}x{height} (padded {pad_w}x{pad_h}), {num_frames} frames, "
          f"{config.model_name} x{config.num_stacks} stacks, tta={tta}, batch={batch_frames}, "
          f"device={device}, threads={torch.get_num_threads()}")
    print(f"  cached {report['cached_fps']:8.2f} frames/s   naive {report['naive_fps']:8.2f} "
          f"frames/s   ({predicted} predictions, max |diff| {report['max_abs_diff']:.1e})")
    print(f"  t2d {t2d * 1e3:8.2f} ms/stack    t3d {t3d * 1e3:8.2f} ms/clip"
          f"{'   (both x2 views, TTA)' if tta else ''}")
    print(f"  speed-up measured {measured:.2f}  theoretical {theoretical:.2f}  "
          f"measured/theoretical {100 * measured / theoretical:.0f} %")
    if backend == "onnxruntime":
        report.update(_bench_onnx(model, config, frames, (width, height), frame_stack_step, tta,
                                  batch_frames, repeats, results["cached"], predicted))
    return report


def _bench_onnx(model: torch.nn.Module, config: ModelConfig, frames: torch.Tensor,
                size: tuple[int, int], frame_stack_step: int, tta: bool, batch_frames: int,
                repeats: int, expected: np.ndarray, predicted: int) -> dict[str, float]:
    """The cached prediction of the same model exported to ONNX, run by onnxruntime."""
    import tempfile
    from pathlib import Path

    from ballspot.deploy.onnx import OnnxNetwork, export_onnx
    from ballspot.model.folder import save_model_dir

    with tempfile.TemporaryDirectory() as tmp:
        resolved = {"model": config.to_params(), "classes": [f"c{k}" for k in
                                                              range(config.num_classes)],
                    "frames": {"image_size": None, "video_size": list(size),
                               "frame_stack_size": config.num_frames,
                               "frame_stack_step": frame_stack_step}}
        save_model_dir(Path(tmp) / "model", model.cpu(), resolved)
        export_onnx(Path(tmp) / "model", Path(tmp) / "onnx")
        network = OnnxNetwork(Path(tmp) / "onnx")
        predictor = CachedPredictor(network, config.num_frames, frame_stack_step, tta=tta,
                                    batch_frames=batch_frames)
        out: dict[str, np.ndarray] = {}

        def cached() -> None:
            out["onnx"] = predict_video(predictor, enumerate(frames), len(frames))[1]

        seconds = _timed(cached, torch.device("cpu"), repeats)
    report = {"onnx_cached_fps": predicted / seconds,
              "onnx_max_abs_diff": float(np.abs(out["onnx"] - expected).max())}
    print(f"  onnxruntime cached {report['onnx_cached_fps']:8.2f} frames/s (PyTorch cached "
          "on the same frames above), max |diff| to PyTorch "
          f"{report['onnx_max_abs_diff']:.1e}")
    return report
