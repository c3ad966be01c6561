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
from ballspot.model.stacker import ModelConfig, MultiDimStacker, build_model

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
    resolved = yaml.safe_load((model_dir / CONFIG_FILE).read_text())
    model = build_model(ModelConfig.from_params(resolved["model"], model_dir / CONFIG_FILE))
    model.load_state_dict(load_file(str(model_dir / WEIGHTS_FILE)))
    return model.to(device).eval(), resolved
