"""ONNX export of a model folder, and the onnxruntime network that :class:`CachedPredictor` runs.

The caching predictor computes each 2D stack once and each clip from cached stack features, so
the export is two graphs with a dynamic batch axis: ``encoder_2d.onnx`` ((n, stack_size, H, W)
frames in [0, 1] -> (n, C, h, w) stack features) and ``head_3d.onnx`` ((n, stacks, C, h, w) ->
logits (n, classes)). ``model.yaml`` is copied beside them with an ``onnx`` block, so an export
folder is a model folder for ``ballspot spot --backend onnxruntime``. H and W are fixed: the
padded training size from ``frames`` (what the predictor feeds).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from ballspot.core.atomic import atomic_dir
from ballspot.core.errors import BallspotError, first_line
from ballspot.model.folder import CONFIG_FILE, load_model_dir
from ballspot.model.frames import padded_size
from ballspot.model.stacker import MultiDimStacker

ENCODER_FILE = "encoder_2d.onnx"
HEAD_FILE = "head_3d.onnx"
ONNX_FILES = (ENCODER_FILE, HEAD_FILE, CONFIG_FILE)
OPSET = 17
EXTRA_HINT = "install the deploy extra: pip install '.[deploy]'"
EXPORT_TOLERANCE = 1e-4  # max |logit difference| the export check accepts


def _require(module: str) -> Any:
    """Import ``onnx`` or ``onnxruntime``, or a one-line error saying which extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise BallspotError(None, f"{module} is not installed; {EXTRA_HINT}") from None


class _Encoder(torch.nn.Module):
    """The 2D part: one stack of frames -> its features (what the predictor caches)."""

    def __init__(self, model: MultiDimStacker) -> None:
        super().__init__()
        self.model = model

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.model.forward_2d(frames)[:, 0]


class _Head(torch.nn.Module):
    """The 3D part and the head: a clip's stack features -> logits."""

    def __init__(self, model: MultiDimStacker) -> None:
        super().__init__()
        self.model = model

    def forward(self, stacks: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.forward_3d(stacks))


def input_size(resolved: dict[str, Any]) -> tuple[int, int]:
    """(H, W) the predictor feeds the encoder: ``frames.image_size``, else the padded
    ``frames.video_size``."""
    frames = resolved["frames"]
    if frames.get("image_size"):
        width, height = frames["image_size"]
        return int(height), int(width)
    if not frames.get("video_size"):
        raise BallspotError(CONFIG_FILE, "frames has neither image_size nor video_size: the "
                                         "exported input size is unknown")
    width, height = frames["video_size"]
    return padded_size(int(height), int(width))


def export_onnx(model_dir: str | Path, out_dir: str | Path, opset: int = OPSET) -> Path:
    """Write ``out_dir`` (:data:`ONNX_FILES`) from ``model_dir``, all at once, after checking
    that onnxruntime's logits equal PyTorch's to :data:`EXPORT_TOLERANCE` on random frames."""
    _require("onnx")
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    model, resolved = load_model_dir(model_dir, "cpu")
    height, width = input_size(resolved)
    generator = torch.Generator().manual_seed(0)
    frames = torch.rand(2, model.stack_size, height, width, generator=generator)
    encoder, head = _Encoder(model).eval(), _Head(model).eval()
    with atomic_dir(out_dir) as tmp, torch.inference_mode(False), torch.no_grad():
        features = encoder(frames)
        stacks = features[:1].unsqueeze(1).expand(2, model.num_stacks, *features.shape[1:])
        for module, example, name, names in (
                (encoder, frames, ENCODER_FILE, ("frames", "features")),
                (head, stacks.contiguous(), HEAD_FILE, ("stacks", "logits"))):
            _export(module, example, tmp / name, names, opset)
        info = {**resolved, "onnx": {"opset": opset, "torch": str(torch.__version__),
                                     "input_size": [width, height], "source": str(model_dir)}}
        (tmp / CONFIG_FILE).write_text(yaml.safe_dump(info, sort_keys=False))
        network = OnnxNetwork(tmp, threads=1)
        clips = torch.rand(3, model.num_stacks, model.stack_size, height, width,
                           generator=generator)
        expected = head(encoder(clips.flatten(0, 1)).unflatten(0, (3, model.num_stacks)))
        got = network.clips(network.stacks(clips.flatten(0, 1)).unflatten(0, (3, -1)))
        error = float((expected - got).abs().max())
        if not error <= EXPORT_TOLERANCE:
            raise BallspotError(model_dir, f"the ONNX export differs from PyTorch by {error:.2e} "
                                           f"(tolerance {EXPORT_TOLERANCE:g})")
    return out_dir


def _export(module: torch.nn.Module, example: torch.Tensor, path: Path,
            names: tuple[str, str], opset: int) -> None:
    import warnings

    try:
        with warnings.catch_warnings():  # the tracer's notes on shape checks, not problems
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (example,), str(path), input_names=[names[0]],
                              output_names=[names[1]], opset_version=opset, dynamo=False,
                              dynamic_axes={names[0]: {0: "batch"}, names[1]: {0: "batch"}})
    finally:
        module.eval()  # the exporter restores the mode it found, recursively


class OnnxNetwork:
    """An export folder run by onnxruntime on the CPU, with the interface the predictor uses
    (:class:`ballspot.predict.predictor.StackNetwork`): float32 torch tensors in and out."""

    dtype = torch.float32

    def __init__(self, folder: str | Path, threads: int | None = None) -> None:
        ort = _require("onnxruntime")
        folder = Path(folder)
        for name in ONNX_FILES:
            if not (folder / name).is_file():
                raise BallspotError(folder / name, "ONNX model file not found (export one with "
                                                   "ballspot export MODEL_DIR --format onnx)")
        self.resolved = yaml.safe_load((folder / CONFIG_FILE).read_text())
        model = self.resolved.get("model") or {}
        self.stack_size = int(model.get("stack_size", 3))
        self.num_stacks = int(model["num_frames"]) // self.stack_size
        self.num_classes = int(model["num_classes"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        self._sessions = []
        for name in (ENCODER_FILE, HEAD_FILE):
            try:
                self._sessions.append(ort.InferenceSession(
                    str(folder / name), options, providers=["CPUExecutionProvider"]))
            except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
                raise BallspotError(folder / name, f"not a loadable ONNX model "
                                                   f"({type(exc).__name__}: "
                                                   f"{first_line(str(exc))})") from None

    @classmethod
    def from_dir(cls, folder: str | Path) -> tuple[OnnxNetwork, dict[str, Any]]:
        """The network and its folder's resolved params (as :func:`load_model_dir`)."""
        network = cls(folder)
        return network, network.resolved

    def _run(self, k: int, x: torch.Tensor) -> torch.Tensor:
        session = self._sessions[k]
        name = session.get_inputs()[0].name
        out = session.run(None, {name: np.ascontiguousarray(x.detach().cpu().float().numpy())})
        return torch.from_numpy(out[0])

    def stacks(self, frames: torch.Tensor) -> torch.Tensor:
        """(n, stack_size, H, W) -> (n, C, h, w) stack features."""
        return self._run(0, frames)

    def clips(self, features: torch.Tensor) -> torch.Tensor:
        """(n, stacks, C, h, w) -> logits (n, classes)."""
        return self._run(1, features)


def is_onnx_dir(path: Path) -> bool:
    """Whether ``path`` holds an ONNX export."""
    return all((path / name).is_file() for name in ONNX_FILES)
