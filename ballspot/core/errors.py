"""User-facing errors: one line that names the file and what is wrong."""

from __future__ import annotations

import sys
from pathlib import Path


class BallspotError(Exception):
    """An error caused by bad input or environment; the CLI prints it as one line."""

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


def print_error(exc: BallspotError) -> None:
    """The one line every entry point (CLI, DVC stage) prints for a user error, on stderr."""
    print(f"ballspot: error: {exc}", file=sys.stderr)
