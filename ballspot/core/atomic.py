"""Atomic outputs: write to a temporary name beside the target, then rename.

Temporary names are ``.<target name>.<random>.tmp[.<suffix>]`` beside the target
(``.staging.<random>.tmp`` inside an output folder): the next write of the same target removes
what a killed run left, and ``.dvcignore`` keeps them out of DVC's hashes meanwhile.
"""

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


def remove_leftovers(folder: Path, prefix: str) -> None:
    """Remove the temporary files and folders of ``prefix`` in ``folder`` (``<prefix>`` + the 8
    random characters of :mod:`tempfile` + ``.tmp`` [+ a suffix]): what a killed run left."""
    if folder.is_dir():
        for stale in folder.glob(f"{glob_escape(prefix)}{'?' * 8}.tmp*"):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)


def glob_escape(text: str) -> str:
    """``text`` with glob's special characters taken literally."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


@contextmanager
def atomic_path(target: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary file path beside ``target``; rename onto it only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target.parent, f".{target.name}.")
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
    remove_leftovers(target.parent, f".{target.name}.")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    ok = False
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        old = None
        if target.exists():  # two renames: the old folder stays whole until the new is in place
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp",
                                        dir=target.parent))
            os.replace(target, old / "old")
        os.replace(tmp, target)
        ok = True
        if old is not None:
            shutil.rmtree(old)
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
    other files in ``out_dir`` are left alone. All or nothing: the old files are set aside first,
    and if any move fails they are put back. On failure ``out_dir`` stays as it was, and is
    removed again if this call created it. A folder that cannot be written raises
    :class:`BallspotError` naming it, before the caller's work starts.
    """
    out_dir = Path(out_dir)
    created = _missing_folders(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        remove_leftovers(out_dir, ".staging.")
        stage = Path(tempfile.mkdtemp(prefix=".staging.", suffix=".tmp", dir=out_dir))
    except OSError as exc:
        raise BallspotError(out_dir, f"cannot write the output folder "
                                     f"({exc.strerror or type(exc).__name__})") from None
    ok = False
    try:
        yield stage
        _swap_in(stage, out_dir, names)
        ok = True
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if not ok:
            _remove_empty(created)


def _swap_in(stage: Path, out_dir: Path, names: Sequence[str]) -> None:
    """Replace ``names`` in ``out_dir`` by those in ``stage`` (absent there: removed), all or
    nothing: the old files wait in ``stage/.old`` until every new one is in place."""
    old = stage / ".old"
    old.mkdir()
    moved_out: list[str] = []
    moved_in: list[str] = []
    try:
        for name in names:
            if (out_dir / name).exists():
                os.replace(out_dir / name, old / name)
                moved_out.append(name)
        for name in names:
            if (stage / name).exists():
                os.replace(stage / name, out_dir / name)
                moved_in.append(name)
    except OSError as exc:
        for name in moved_in:  # roll back: the old files as they were
            (out_dir / name).unlink(missing_ok=True)
        for name in moved_out:
            os.replace(old / name, out_dir / name)
        raise BallspotError(out_dir, f"cannot move the outputs into place "
                                     f"({exc.strerror or type(exc).__name__})") from None


def write_text(target: str | Path, text: str) -> None:
    """Write ``text`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(target: str | Path, data: Any, indent: int | None = 4) -> None:
    """Write ``data`` as JSON to ``target`` atomically."""
    write_text(target, json.dumps(data, indent=indent) + "\n")
