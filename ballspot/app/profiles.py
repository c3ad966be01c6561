"""Profiles: named overlays of ``params.yaml`` (``profiles/<name>.yaml``), e.g. the paper settings.

An overlay holds only the keys it changes. Mappings are merged key by key; any other value (lists
included) replaces the base value. A key the base does not have is a one-line error naming the
overlay file (typos would otherwise be ignored silently), except:

- the training blocks of the DAG (:data:`TRAIN_BLOCKS`: the shared ``train`` and the four
  stages);
- any field of the dataclass that reads a block (:func:`ballspot.pipeline.blocks.schemas`:
  training, ``model``, the dataset blocks, ``predict``, ``postprocess``, ``evaluate``,
  ``data.download``, ``data.synthetic``), since the base may leave defaults out;
- free-form mappings (:data:`REPLACED`: folds, per-class weights, ...), which replace the base
  value as a whole, so no fold or class of the base survives.

An overlay may start with ``extends: NAME`` (or a list): those profiles are applied first.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ballspot.core.atomic import write_text
from ballspot.core.errors import BallspotError
from ballspot.core.params import load_params

PROFILES_DIR = "profiles"
TRAIN_BLOCKS = ("train", "train_basic", "train_action", "train_tuning", "train_finetune")
# Mappings whose keys are data (fold ids, class names, op names): replaced, never merged.
REPLACED = ("folds", "action_weights", "shaker", "augment", "live_postprocess")
HEADER_TAG = "# profile: "


def _schema_keys(where: tuple[str, ...]) -> set[str]:
    """Keys a mapping may hold although the base params leave them out (defaults apply)."""
    from ballspot.pipeline.blocks import schema_keys

    return schema_keys(where)


def _known(where: tuple[str, ...]) -> bool:
    if len(where) == 1:
        return where[0] in TRAIN_BLOCKS
    return where[-1] in _schema_keys(where[:-1])


def merge(base: Mapping[str, Any], overlay: Mapping[str, Any], source: str | Path,
          where: tuple[str, ...] = ()) -> dict[str, Any]:
    """Deep-merge ``overlay`` onto ``base`` (neither is modified); see the module docstring."""
    out = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        path = (*where, str(key))
        dotted = ".".join(path)
        if key not in out and not _known(path):
            raise BallspotError(source, f"unknown key '{dotted}': params.yaml has no such key "
                                        "(misspelt?)")
        old = out.get(key)
        if key in REPLACED or not isinstance(value, Mapping) or (key in out and old is None):
            if isinstance(old, Mapping) and key not in REPLACED and value is not None:
                raise BallspotError(source, f"'{dotted}' must be a mapping, as in params.yaml")
            out[key] = copy.deepcopy(value)
        elif isinstance(old, Mapping) or key not in out:
            out[key] = merge(old or {}, value, source, path)  # a new block: its keys checked too
        else:
            raise BallspotError(source, f"'{dotted}' is a {type(old).__name__} in params.yaml, "
                                        "not a mapping")
    return out


def profile_path(name: str, profiles_dir: str | Path = PROFILES_DIR) -> Path:
    """``profiles/<name>.yaml``, or ``name`` itself when it is a path to a YAML file."""
    if name.endswith((".yaml", ".yml")) or "/" in name:
        return Path(name)
    return Path(profiles_dir) / f"{name}.yaml"


def load_overlays(names: Sequence[str], profiles_dir: str | Path = PROFILES_DIR
                  ) -> list[tuple[Path, dict[str, Any]]]:
    """The overlays of ``names`` in application order, ``extends`` resolved (each once)."""
    ordered: list[tuple[Path, dict[str, Any]]] = []
    seen: set[Path] = set()

    def visit(name: str, chain: tuple[Path, ...]) -> None:
        path = profile_path(name, profiles_dir)
        if path in chain:
            raise BallspotError(path, f"profile extends itself through {[p.stem for p in chain]}")
        if path in seen:
            return
        if not path.is_file():
            known = sorted(p.stem for p in Path(profiles_dir).glob("*.yaml"))
            raise BallspotError(path, f"no profile '{name}' (known: {', '.join(known) or 'none'})")
        overlay = load_params(path)
        parents = overlay.pop("extends", None) or []
        for parent in [parents] if isinstance(parents, str) else parents:
            visit(str(parent), (*chain, path))
        seen.add(path)
        ordered.append((path, overlay))

    for name in names:
        visit(name, ())
    return ordered


def applied_profiles(text: str) -> list[str]:
    """Names recorded in the header of a params file written by :func:`apply_profiles`."""
    for line in text.splitlines():
        if line.startswith(HEADER_TAG):
            return line[len(HEADER_TAG):].split()
        if line and not line.startswith("#"):
            break
    return []


def apply_profiles(names: Sequence[str], params: str | Path = "params.yaml",
                   profiles_dir: str | Path = PROFILES_DIR) -> tuple[dict[str, Any], list[str]]:
    """(merged params, every profile now applied) for ``names`` applied on ``params``."""
    if not names:
        raise BallspotError(profiles_dir, "name at least one profile")
    from ballspot.pipeline.schema import check_params

    merged = load_params(params)
    overlays = load_overlays(names, profiles_dir)
    for path, overlay in overlays:
        merged = merge(merged, overlay, path)
        check_params(merged, path)  # an error names the overlay that made the value
    already = applied_profiles(Path(params).read_text(encoding="utf-8"))
    applied = list(dict.fromkeys([*already, *(path.stem for path, _ in overlays)]))
    return merged, applied


def render(merged: Mapping[str, Any], applied: Sequence[str]) -> str:
    """The params file text: a header naming the profiles, then the blocks in order."""
    header = (
        "# ballspot parameters: the built-in CPU default with profile(s) "
        f"{' + '.join(applied)} applied\n"
        f"# by `ballspot profile apply` (profiles/*.yaml). Back to the CPU default: "
        "git checkout params.yaml\n"
        f"{HEADER_TAG}{' '.join(applied)}\n\n")
    blocks = [yaml.dump({name: value}, Dumper=_Dumper, sort_keys=False,
                        default_flow_style=False, allow_unicode=True, width=100)
              for name, value in merged.items()]
    return header + "\n".join(blocks)


class _Dumper(yaml.SafeDumper):
    """Short lists of scalars on one line ([1280, 736]), long ones (game names) one per line."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    scalars = all(isinstance(v, (str, int, float, bool)) or v is None for v in data)
    flow = scalars and len(", ".join(map(str, data))) <= 72
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


def write_profiles(names: Sequence[str], params: str | Path = "params.yaml",
                   out: str | Path | None = None, profiles_dir: str | Path = PROFILES_DIR
                   ) -> Path:
    """Apply ``names`` on ``params``; write the result atomically to ``out`` (default: params)."""
    merged, applied = apply_profiles(names, params, profiles_dir)
    target = Path(out if out is not None else params)
    write_text(target, render(merged, applied))
    return target


def _apply(args: argparse.Namespace) -> None:
    target = write_profiles(args.names, args.params, args.out, args.profiles_dir)
    print(f"profile: wrote {target} ({' + '.join(applied_profiles(target.read_text()))})")


def _show(args: argparse.Namespace) -> None:
    merged, applied = apply_profiles(args.names, args.params, args.profiles_dir)
    sys.stdout.write(render(merged, applied))


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``ballspot profile apply|show NAME [NAME...]`` to the CLI's sub-commands."""
    profile = commands.add_parser(
        "profile", help="switch params.yaml to a named settings profile (e.g. paper)")
    actions = profile.add_subparsers(dest="profile_command", required=True)
    for name, func, text in (
        ("apply", _apply, "merge the profile(s) into params.yaml (written atomically)"),
        ("show", _show, "print the merged params without writing them"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("names", nargs="+", metavar="NAME",
                            help="profile names (profiles/NAME.yaml) or YAML paths, in order")
        action.add_argument("--params", default="params.yaml", help="base params file")
        action.add_argument("--profiles-dir", default=PROFILES_DIR, help="folder of profiles")
        if name == "apply":
            action.add_argument("--out", default=None, help="file to write (default: --params)")
        action.set_defaults(func=func)
