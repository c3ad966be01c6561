"""Static import graph of ballspot and the stage modules, function-level imports included (a
lazy import still runs when its function does), for the architecture tests."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def module_file(name: str) -> Path | None:
    """The file of a first-party module (``ballspot.*`` or ``stages.*``), or None."""
    if name.split(".")[0] not in ("ballspot", "stages"):
        return None
    base = REPO.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def imports_of(name: str, parents: bool = True) -> frozenset[str]:
    """First-party modules that module ``name`` imports anywhere in its body, and (``parents``)
    the packages above it, whose ``__init__`` runs first."""
    path = module_file(name)
    assert path is not None, name
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from ballspot.train import distributed`` imports a module; ``from x import f``
            # a name of module x
            targets = [f"{node.module}.{a.name}" if module_file(f"{node.module}.{a.name}")
                       else node.module for a in node.names]
        else:
            continue
        for target in targets:
            while target and module_file(target) is None:
                target = target.rpartition(".")[0]
            if target:
                found.add(target)
    if parents:
        parts = name.split(".")
        found.update(".".join(parts[:i]) for i in range(1, len(parts)))
    found.discard(name)
    return frozenset(found)


def closure(name: str, parents: bool = True) -> set[str]:
    """Every first-party module that running module ``name`` may execute, itself included
    (``parents`` False: only through its import statements)."""
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(imports_of(current, parents))
    return seen


def all_modules() -> list[str]:
    return sorted(module_name(p) for p in (REPO / "ballspot").rglob("*.py"))


# The layers, lowest first, and what each may import (besides itself). The README's code map
# and each sub-package's docstring say the same.
LAYERS: dict[str, set[str]] = {
    "core": set(),
    "data": {"core"},
    "model": {"core"},
    "train": {"core", "data", "model"},
    "predict": {"core", "data", "model"},
    "eval": {"core", "data", "predict"},
    "render": {"core", "data", "predict"},
    "pipeline": {"core", "data", "model", "train", "predict", "eval"},
    "deploy": {"core", "data", "model", "predict"},
    "live": {"core", "data", "model", "predict"},
    "app": {"core", "data", "model", "train", "predict", "eval", "render", "pipeline", "deploy",
            "live"},
    "bench": {"core", "data", "model", "train", "predict", "eval", "render", "pipeline", "deploy",
              "live", "app"},
    "cli": {"core", "data", "model", "train", "predict", "eval", "render", "pipeline", "deploy",
            "live", "app", "bench"},
}


def layer_of(module: str) -> str | None:
    """``ballspot.train.loop`` -> ``train``; ``ballspot.cli`` -> ``cli``; the root package None."""
    parts = module.split(".")
    if parts[0] != "ballspot" or len(parts) == 1:
        return None
    return parts[1]


def code_deps(stage_module: str) -> set[str]:
    """The code deps a DVC stage running ``python -m <stage_module>`` must list: each layer it
    executes as its folder, the top (``pipeline``) module by module, the stage modules as files."""
    deps = set()
    for module in closure(stage_module):
        path = module_file(module).relative_to(REPO).as_posix()
        layer = layer_of(module)
        if layer is None or layer == "pipeline":
            deps.add(path)
        else:
            deps.add(f"ballspot/{layer}")
    return deps
