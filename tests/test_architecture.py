"""The architecture holds: layers import only downwards, no module imports itself round a cycle,
every DVC stage depends on exactly the code it runs, and nothing points outside the repository."""

from __future__ import annotations

import re
import subprocess

import yaml
from imports import LAYERS, REPO, all_modules, closure, code_deps, imports_of, layer_of

CODE_PREFIXES = ("ballspot/", "stages/")
# section signs of notes that are not in the repository, and paths to the folder beside it
OUTSIDE = ("\u00a7", "../" + "shared")


def test_every_module_belongs_to_a_known_layer() -> None:
    for module in all_modules():
        layer = layer_of(module)
        assert layer is None or layer in LAYERS, f"{module}: layer {layer!r} is not in LAYERS"


def test_layers_import_only_the_layers_below_them() -> None:
    wrong = []
    for module in all_modules():
        own = layer_of(module)
        for target in imports_of(module):
            other = layer_of(target)
            if own and other and other != own and other not in LAYERS[own]:
                wrong.append(f"{module} imports {target} ({own} may not import {other})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    # a cycle through function-level imports counts too: it only hides the tangle (a package's
    # __init__ importing its own modules is not one)
    cycles = []
    for module in all_modules():
        for target in imports_of(module, parents=False):
            if module in closure(target, parents=False) and target.startswith("ballspot."):
                cycles.append(f"{module} -> {target} -> ... -> {module}")
    assert not cycles, "\n".join(sorted(cycles))


def _stages() -> dict[str, dict]:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def test_each_stage_depends_on_exactly_the_code_it_runs() -> None:
    for name, stage in _stages().items():
        body = stage.get("do", stage)
        module = re.match(r"python -m (\S+)", body["cmd"]).group(1)
        listed = {d for d in body["deps"] if d.startswith(CODE_PREFIXES)}
        wanted = code_deps(module)
        assert listed == wanted, (f"dvc.yaml stage {name}: missing {sorted(wanted - listed)}, "
                                  f"not run {sorted(listed - wanted)}")


def test_nothing_refers_to_documents_outside_the_repository() -> None:
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split()
    wrong = []
    for name in files:
        if not name.endswith((".py", ".md", ".yaml", ".toml", ".txt", ".cfg")) \
                or name.startswith("dvc-remote/") or name == "dvc.lock" \
                or not (REPO / name).is_file():
            continue
        text = (REPO / name).read_text(errors="replace")
        for i, line in enumerate(text.splitlines(), 1):
            if any(mark in line for mark in OUTSIDE):
                wrong.append(f"{name}:{i}: {line.strip()[:80]}")
    assert not wrong, "\n".join(wrong)
