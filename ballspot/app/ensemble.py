"""The ensemble a user names: model folders (PyTorch or ONNX exports, or folders of ``fold_*``
ones), the backend that runs them, and each member's frame size, shared by ``spot`` and
``spot --live``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ballspot.core.errors import BallspotError
from ballspot.model.folder import MODEL_FILES

if TYPE_CHECKING:  # post-processing (scipy) loads when a command runs, as below
    from ballspot.predict.postprocess import PostprocessParams


def _is_model_dir(path: Path) -> bool:
    """A PyTorch model folder or an ONNX export (:func:`ballspot.deploy.onnx.is_onnx_dir`)."""
    from ballspot.deploy.onnx import is_onnx_dir

    return all((path / name).is_file() for name in MODEL_FILES) or is_onnx_dir(path)


def find_model_dirs(paths: Sequence[str | Path]) -> list[Path]:
    """Model directories named by ``paths``: a model directory itself (PyTorch or an ONNX
    export), or a folder of ``fold_*`` model directories (all of them). A path holding neither
    is a one-line error."""
    found: list[Path] = []
    for path in map(Path, paths):
        if _is_model_dir(path):
            found.append(path)
            continue
        folds = sorted(p for p in path.glob("fold_*") if _is_model_dir(p)) \
            if path.is_dir() else []
        if not folds:
            problem = "no such model folder" if not path.exists() else \
                "not a model (needs model.safetensors + model.yaml, an ONNX export, or fold_* " \
                "model folders)"
            raise BallspotError(path, problem)
        found.extend(folds)
    return found


def spot_setup(params: Mapping[str, Any], source: str | Path,
               models: Sequence[str | Path] | None, live: bool
               ) -> tuple[list[Path], PostprocessParams]:
    """The model folders and post-processing of a spotting run: ``models`` or the ``spot``
    block's default ones, and the ``postprocess`` block with, for live spotting (``--live``,
    ``--low-latency``), the block's live overrides."""
    from ballspot.app.visualize import postprocess_params
    from ballspot.predict.defaults import SpotDefaults

    defaults = SpotDefaults.from_params(params, source)
    model_dirs = find_model_dirs(list(models) if models else defaults.model_paths(live))
    return model_dirs, defaults.postprocess(postprocess_params(params, source), live, source)


@dataclass
class Member:
    """One model of the ensemble with its predictor and the frame size it was trained on."""

    path: Path
    predictor: Any
    video_size: tuple[int, int]  # (W, H) frames are resized to


BACKENDS = ("torch", "onnxruntime")


def _load_predictor(model_dir: Path, device: Any, tta: bool, batch_frames: int,
                    backend: str, centre_step: int = 1) -> tuple[Any, dict[str, Any]]:
    """The cached predictor of one model folder on ``backend``, with its resolved params."""
    from ballspot.deploy.onnx import OnnxNetwork, is_onnx_dir
    from ballspot.predict.predictor import CachedPredictor

    if backend == "torch":
        if is_onnx_dir(model_dir) and not (model_dir / MODEL_FILES[0]).is_file():
            raise BallspotError(model_dir, "an ONNX export: use --backend onnxruntime")
        return CachedPredictor.from_model_dir(model_dir, device, tta, batch_frames, centre_step)
    if not is_onnx_dir(model_dir):
        raise BallspotError(model_dir, "not an ONNX export (write one with: ballspot export "
                                       f"{model_dir} --format onnx)")
    network, resolved = OnnxNetwork.from_dir(model_dir)
    frames = resolved["frames"]
    size = tuple(frames["image_size"]) if frames.get("image_size") else None
    return CachedPredictor(network, frames["frame_stack_size"], frames["frame_stack_step"],
                           tta=tta, device="cpu", batch_frames=batch_frames, size=size,
                           centre_step=centre_step), resolved


def load_members(model_dirs: Sequence[Path], device: Any, frame_size: tuple[int, int] | None,
                 tta: bool, batch_frames: int, backend: str = "torch", centre_step: int = 1
                 ) -> tuple[list[Member], list[str]]:
    """The ensemble's members and their common classes; ``frame_size`` (W, H) is the size a
    model without ``frames.video_size`` sees (the video's own)."""
    if backend not in BACKENDS:
        raise BallspotError(None, f"--backend must be one of {BACKENDS}, got {backend!r}")
    members, classes = [], None
    for model_dir in model_dirs:
        try:
            predictor, resolved = _load_predictor(model_dir, device, tta, batch_frames, backend,
                                                  centre_step)
        except BallspotError:
            raise
        except Exception as exc:  # noqa: BLE001 - corrupt weights, mismatched tensors, bad YAML
            raise BallspotError(model_dir, f"cannot load the model ({exc})") from None
        own = list(resolved.get("classes") or [])
        if classes is None:
            classes = own
        elif own != classes:
            raise BallspotError(model_dir, f"classes {own} differ from the ensemble's {classes}")
        video_size = resolved["frames"].get("video_size") or frame_size
        if video_size is None:
            raise BallspotError(model_dir, "model.yaml has no frames.video_size")
        members.append(Member(model_dir, predictor, (int(video_size[0]), int(video_size[1]))))
    return members, classes or []


def _resize(luma: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    width, height = size
    if luma.shape == (height, width):
        return luma
    shrink = width * height < luma.shape[0] * luma.shape[1]
    # area averaging when shrinking (no aliasing of the small ball), bilinear when enlarging
    return cv2.resize(luma, (width, height),
                      interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


class FrameResizer:
    """Resizes the current frame once per target size, however many members share the size."""

    def __init__(self) -> None:
        self._frame: np.ndarray | None = None
        self._sizes: dict[tuple[int, int], np.ndarray] = {}

    def __call__(self, luma: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        if luma is not self._frame:
            self._frame, self._sizes = luma, {}
        if size not in self._sizes:
            self._sizes[size] = _resize(luma, size)
        return self._sizes[size]
