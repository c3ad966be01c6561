"""Model folders: the trained weights (safetensors) beside the resolved params that built them,
so a folder alone rebuilds its model (training writes them, prediction and ``spot`` read them)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import load_file, save_file

from ballspot.core.atomic import atomic_path, write_text
from ballspot.core.errors import BallspotError
from ballspot.model.stacker import ModelConfig, MultiDimStacker, build_model, without_unread_blocks

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "model.yaml"
MODEL_FILES = (WEIGHTS_FILE, CONFIG_FILE)


def save_model_dir(out_dir: Path, model: torch.nn.Module, resolved: Mapping[str, Any]) -> None:
    """A self-describing model directory: EMA weights (safetensors) + the params that built them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(out_dir / WEIGHTS_FILE, ".safetensors") as tmp:
        save_file(state, str(tmp))
    write_text(out_dir / CONFIG_FILE, yaml.safe_dump(dict(resolved), sort_keys=False))


def load_model_dir(model_dir: str | Path, device: str | torch.device = "cpu"
                   ) -> tuple[MultiDimStacker, dict[str, Any]]:
    """Rebuild a model from its directory; returns (model in eval mode, resolved params)."""
    model_dir = Path(model_dir)
    for name in MODEL_FILES:
        if not (model_dir / name).is_file():
            raise BallspotError(model_dir / name, "model file not found")
    config_path, weights_path = model_dir / CONFIG_FILE, model_dir / WEIGHTS_FILE
    try:
        resolved = yaml.safe_load(config_path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BallspotError(config_path, f"not a readable model.yaml ({type(exc).__name__})"
                            ) from None
    if not isinstance(resolved, dict) or not isinstance(resolved.get("model"), dict) \
            or not isinstance(resolved.get("frames"), dict):
        raise BallspotError(config_path, "model.yaml must hold the 'model' and 'frames' blocks")
    config = ModelConfig.from_params(resolved["model"], config_path)
    classes = resolved.get("classes")
    if not isinstance(classes, list) or len(classes) != config.num_classes:
        raise BallspotError(config_path, f"'classes' names {classes!r} but the model has "
                                         f"{config.num_classes} outputs")
    model = build_model(config)
    try:
        state = load_file(str(weights_path))
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types for a bad file
        raise BallspotError(weights_path, f"not a readable safetensors file ({exc})") from None
    state = without_unread_blocks(model, state)
    mismatch = _first_mismatch(model.state_dict(), state)
    if mismatch:
        raise BallspotError(weights_path, f"the weights do not fit the model that model.yaml "
                                          f"describes ({mismatch})")
    model.load_state_dict(state)
    return model.to(device).eval(), resolved


def _first_mismatch(expected: Mapping[str, torch.Tensor], found: Mapping[str, torch.Tensor]
                    ) -> str | None:
    """The first missing, unexpected or differently shaped tensor, in words (None: they fit)."""
    for key, tensor in expected.items():
        if key not in found:
            return f"{key} is missing"
        if tuple(found[key].shape) != tuple(tensor.shape):
            return (f"{key} is {list(found[key].shape)}, the model wants "
                    f"{list(tensor.shape)}")
    extra = sorted(set(found) - set(expected))
    return f"unexpected {extra[0]}" if extra else None
