"""Atomic outputs: write to a temporary name beside the target, then rename."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ballspot.core.errors import BallspotError


@contextmanager
def atomic_path(target: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary file path beside ``target``; rename onto it only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, innermost first."""
    return [p for p in [folder, *folder.parents] if not p.exists()]


def _remove_empty(folders: Sequence[Path]) -> None:
    """Remove each of ``folders`` (innermost first) that exists and is empty."""
    for folder in folders:
        if folder.exists() and not any(folder.iterdir()):
            folder.rmdir()


@contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary directory beside ``target``; it replaces ``target`` only on success.

    On failure the temporary directory and any parent folders created for it are removed.
    """
    target = Path(target)
    created = _missing_folders(target.parent)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    ok = False
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
        ok = True
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
        if not ok:
            _remove_empty(created)


@contextmanager
def staged_outputs(out_dir: str | Path, names: Sequence[str]) -> Iterator[Path]:
    """Yield a staging folder for one run's outputs ``names``, moved into ``out_dir`` on success.

    On success each name written to the staging folder replaces its namesake in ``out_dir``, and
    each name not written is removed there (an earlier run's file would not match this run's);
    other files in ``out_dir`` are left alone. On failure ``out_dir`` stays as it was, and is
    removed again if this call created it. A folder that cannot be written raises
    :class:`BallspotError` naming it, before the caller's work starts.
    """
    out_dir = Path(out_dir)
    created = _missing_folders(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".staging.", suffix=".tmp", dir=out_dir))
    except OSError as exc:
        raise BallspotError(out_dir, f"cannot write the output folder "
                                     f"({exc.strerror or type(exc).__name__})") from None
    ok = False
    try:
        yield stage
        try:
            for name in names:
                if (stage / name).exists():
                    os.replace(stage / name, out_dir / name)
                elif (out_dir / name).exists():
                    (out_dir / name).unlink()
        except OSError as exc:
            raise BallspotError(out_dir, f"cannot move the outputs into place "
                                         f"({exc.strerror or type(exc).__name__})") from None
        ok = True
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if not ok:
            _remove_empty(created)


def write_text(target: str | Path, text: str) -> None:
    """Write ``text`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(target: str | Path, data: Any, indent: int | None = 4) -> None:
    """Write ``data`` as JSON to ``target`` atomically."""
    write_text(target, json.dumps(data, indent=indent) + "\n")
