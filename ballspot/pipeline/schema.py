"""The params file's schema: for every block, what each key may hold (type, range, choices).

Stages, the CLI and profiles check params with the same code (:func:`check_params`); an error
names the file and the key. :mod:`ballspot.pipeline.blocks` maps each block to the dataclass that
reads it (a test holds the two in step)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ballspot.core.errors import BallspotError

SHARED_BLOCK = "train"  # keys the four training stages share; a stage's block overrides them
TRAIN_STAGES = ("train_basic", "train_action", "train_tuning", "train_finetune")

# --------------------------------------------------------------------------------- validation

@dataclasses.dataclass(frozen=True)
class Rule:
    """What one key may hold: a kind (below), an inclusive range, or a set of choices.

    Kinds: ``int``, ``float`` (an int is fine), ``bool``, ``str``, ``str?`` / ``int?`` (or
    null), ``strs`` / ``ints`` (a list, never a string), ``pair`` (two numbers), ``size?`` (null
    or two positive ints), ``map`` (a mapping), ``weights`` (null, a name or a class->weight
    mapping), ``folds`` (fold index -> list of games), ``device`` (auto, cpu, cuda[:N], mps).
    """

    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    below: bool = False  # ``high`` itself excluded


def _r(kind: str, low: float | None = None, high: float | None = None,
       choices: tuple[Any, ...] | None = None, below: bool = False) -> Rule:
    return Rule(kind, low, high, choices, below)


POS, NONNEG = 1, 0
_DATASET = {
    "root": _r("str"), "task": _r("str"), "label_file": _r("str"), "classes": _r("strs"),
    "halves": _r("ints", 1, 2), "resolution": _r("str"), "video_pattern": _r("str"),
    "folds": _r("folds"), "test_folds": _r("ints", 0), "challenge": _r("strs"),
    "fps": _r("float", 1e-6), "train_games": _r("strs"), "val_games": _r("strs"),
}
_TRAIN = {
    "seed": _r("int", NONNEG), "device": _r("device"), "frame_stack_size": _r("int", POS),
    "image_size": _r("size?"), "frame_stack_step": _r("int", POS),
    "max_targets_window_size": _r("int", POS), "batch_size": _r("int", POS),
    "base_lr": _r("float", 1e-12), "min_base_lr": _r("float", 0), "optimizer":
    _r("str", choices=("adamw", "sgd")), "weight_decay": _r("float", 0),
    "epochs_warmup": _r("int", NONNEG), "epochs_train": _r("int", NONNEG),
    "train_epoch_size": _r("int", POS), "ema_decay": _r("float", 0, 1, below=True),
    "focal_alpha": _r("float", -1, 1), "focal_gamma": _r("float", 0),
    "freeze_conv2d_encoder": _r("bool"), "classifier_init": _r("str", choices=("fresh", "centre")),
    "action_window_size": _r("int", POS), "action_prob": _r("float", 0, 1),
    "clear_pred_window_size": _r("int", POS), "action_weights": _r("weights"),
    "action_weights_beta": _r("float", 0, 1, below=True), "select_best": _r("bool"),
    "video_choice": _r("str", choices=("uniform", "length")), "shaker": _r("map"),
    "augment": _r("map"), "num_workers": _r("int", NONNEG), "loader_timeout": _r("float", 1e-6),
    "decode_backend": _r("str", choices=("auto", "cpu", "pyav", "opencv", "nvdec")),
    "frames_in_memory": _r("bool"), "amp": _r("bool"), "compile": _r("bool"),
    "torch_threads": _r("int?", POS), "ddp_processes": _r("int", POS),
    "ddp_backend": _r("str", choices=("auto", "nccl", "gloo")),
}
RULES: dict[tuple[str, ...], dict[str, Rule]] = {
    ("dataset",): _DATASET,
    ("action_dataset",): _DATASET,
    ("model",): {
        "model_name": _r("str"), "index_2d_features": _r("int", NONNEG), "pretrained": _r("str?"),
        "stack_size": _r("int", POS), "num_3d_blocks": _r("int", NONNEG),
        "num_3d_features": _r("int", POS), "expansion_3d_ratio": _r("int", POS),
        "se_reduce_3d_ratio": _r("int", POS), "num_3d_stack_proj": _r("int", POS),
        "drop_rate": _r("float", 0, 1, below=True), "drop_path_rate": _r("float", 0, 1, below=True),
        "act_layer": _r("str"),
    },
    **{(name,): _TRAIN for name in (SHARED_BLOCK, *TRAIN_STAGES)},
    ("predict",): {
        "device": _r("device"), "tta": _r("bool"), "batch_frames": _r("int", POS),
        "centre_step": _r("int", POS),
        "decode_backend": _r("str", choices=("auto", "cpu", "pyav", "opencv", "nvdec")),
        "torch_threads": _r("int?", POS),
    },
    ("postprocess",): {"gauss_sigma": _r("float", 1e-6), "height": _r("float", 0, 1),
                       "distance": _r("int", POS)},
    ("spot",): {"models": _r("strs"), "live_models": _r("strs"), "live_postprocess": _r("map")},
    ("evaluate",): {"metric": _r("str", choices=("at1", "at2", "at3", "at4", "at5", "tight",
                                                "loose")),
                    "chance_draws": _r("int", NONNEG), "chance_seed": _r("int", NONNEG)},
    ("data", "synthetic"): {
        "seed": _r("int", NONNEG), "half_seconds": _r("float", 1), "width": _r("int", 16),
        "height": _r("int", 16), "codec": _r("str", choices=("h264", "hevc")),
        "gop": _r("int", POS), "crf": _r("int", 0, 51), "ext": _r("str", choices=("mkv", "mp4")),
        "noise_sigma": _r("float", 0), "blur_sigma": _r("float", 0),
        "ball_min_radius_px": _r("float", 0), "view_width_m": _r("pair", 1e-6),
        "camera_lag_s": _r("float", 1e-6), "occlusion": _r("bool"),
        "cue_frames": _r("int", NONNEG),
        "pass_speed_mps": _r("pair", 1e-6), "drive_speed_mps": _r("pair", 1e-6),
        "pass_share": _r("float", 0, 1), "loft_share": _r("float", 0, 1),
        "roll_decel_mps2": _r("float", 1e-6), "hold_mean_s": _r("float", 0),
        "hold_min_s": _r("float", 0), "action_gap_s": _r("pair", 1e-6),
        "not_shown_share": _r("float", 0, 1),
    },
    ("data", "download"): {
        "source": _r("str", choices=("EXRCSDrive", "HuggingFace")), "server": _r("str?"),
        "splits": _r("strs", choices=("train", "valid", "test", "challenge")),
        "password_env": _r("str"), "token_env": _r("str"),
        "action_splits": _r("strs", choices=("train", "valid", "test", "challenge")),
        "action_files": _r("strs"), "action_task_dir": _r("str?"), "timeout_s": _r("float", 1e-6),
        "verbose": _r("bool"),
    },
}


def stage_values(params: Mapping[str, Any], stage: str, source: str | Path = "params.yaml"
                 ) -> dict[str, Any]:
    """A training stage's settings: the shared ``train`` block under the stage's own block."""
    from ballspot.core.params import block

    return {**(params.get(SHARED_BLOCK) or {}), **block(params, stage, source)}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind_error(rule: Rule, value: Any) -> str | None:
    """Why ``value`` is not of ``rule.kind`` (None when it is)."""
    kind, ok = rule.kind, True
    if value is None and kind.endswith("?") or kind == "weights" and value is None:
        return None
    base = kind.rstrip("?")
    if base == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif base == "float":
        ok = _number(value)
    elif base == "bool":
        ok = isinstance(value, bool)
    elif base == "str":
        ok = isinstance(value, str)
    elif base in ("strs", "ints"):
        item = str if base == "strs" else int
        ok = isinstance(value, (list, tuple)) and all(
            isinstance(v, item) and not isinstance(v, bool) for v in value)
    elif base == "pair":
        ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(map(_number, value))
    elif base == "size":
        ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    elif base == "map":
        ok = isinstance(value, Mapping)
    elif base == "weights":
        ok = value == "effective_number" or isinstance(value, Mapping) and all(
            _number(v) and v >= 0 for v in value.values())
    elif base == "folds":
        ok = isinstance(value, Mapping) and all(
            isinstance(g, (list, tuple)) and all(isinstance(x, str) for x in g)
            for g in value.values())
    elif base == "device":
        ok = isinstance(value, str) and re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", value) is not None
    if ok:
        return None
    return f"must be {_KIND_NAMES.get(base, base)}{' or null' if kind.endswith('?') else ''}"


_KIND_NAMES = {"int": "an integer", "float": "a number", "bool": "true or false",
               "str": "a string", "strs": "a list of strings", "ints": "a list of integers",
               "pair": "a [low, high] pair of numbers", "size": "[width, height] in pixels",
               "map": "a mapping", "weights": "'effective_number' or a class -> weight mapping",
               "folds": "a mapping of fold index -> list of games",
               "device": "auto, cpu, mps, cuda or cuda:N"}


def _range_error(rule: Rule, value: Any) -> str | None:
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        if rule.choices is not None and v not in rule.choices:
            return f"must be one of {list(rule.choices)}"
        if not _number(v):
            continue
        if rule.low is not None and v < rule.low:
            return f"must be at least {rule.low:g}"
        if rule.high is not None and (v >= rule.high if rule.below else v > rule.high):
            return f"must be {'below' if rule.below else 'at most'} {rule.high:g}"
    if rule.kind == "pair" and value[0] > value[1]:
        return "must be [low, high] with low <= high"
    return None


def check_block(where: tuple[str, ...], values: Mapping[str, Any], source: str | Path) -> None:
    """A one-line error naming ``source`` and the key when a key of block ``where`` is
    unknown, of the wrong type or out of range."""
    rules = RULES[where]
    dotted = ".".join(where)
    if not isinstance(values, Mapping):
        raise BallspotError(source, f"'{dotted}' must be a mapping")
    for key, value in values.items():
        rule = rules.get(key)
        if rule is None:
            raise BallspotError(source, f"unknown key '{dotted}.{key}' (known: "
                                        f"{', '.join(sorted(rules))})")
        reason = _kind_error(rule, value) or _range_error(rule, value)
        if reason:
            raise BallspotError(source, f"'{dotted}.{key}' {reason}, got {value!r}")


def check_params(params: Mapping[str, Any], source: str | Path = "params.yaml") -> None:
    """Check every block of ``params`` that a dataclass reads (see :data:`RULES`), and what
    the blocks only mean together: a training stage runs at least one epoch."""
    for where in RULES:
        values: Any = params
        for part in where:
            values = values.get(part) if isinstance(values, Mapping) else None
        if values is not None:
            check_block(where, values, source)
    for stage in TRAIN_STAGES:
        if stage in params:
            merged = stage_values(params, stage, source)
            if merged.get("epochs_warmup", 0) + merged.get("epochs_train", 1) < 1:
                raise BallspotError(source, f"'{stage}' trains no epoch (epochs_warmup + "
                                            "epochs_train must be at least 1)")


def load_checked_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """The params file, every block checked (:func:`check_params`): what stages and the CLI read."""
    from ballspot.core.params import load_params

    params = load_params(path)
    check_params(params, path)
    return params


def from_block(cls: type, where: tuple[str, ...], values: Mapping[str, Any] | None,
               source: str | Path = "params.yaml") -> Any:
    """``cls(**values)`` after :func:`check_block`: a dataclass of one params block."""
    values = dict(values or {})
    check_block(where, values, source)
    return cls(**values)
