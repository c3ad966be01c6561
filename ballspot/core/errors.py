"""User-facing errors: one line that names the file and what is wrong."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


class BallspotError(Exception):
    """An error caused by bad input or environment; the CLI prints it as one line."""

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)

    def __reduce__(self) -> tuple:
        # picklable with its two fields, so it crosses process pools (the data stage's workers)
        return (type(self), (self.path, self.problem))


def first_line(exc: BaseException | str, limit: int = 120) -> str:
    """The first line of an exception's message (its type's name if it has none; "" for empty
    text), at most ``limit`` characters: what a one-line error quotes of a library's message."""
    text = (exc if isinstance(exc, str) else str(exc)).strip()
    if not text:
        return "" if isinstance(exc, str) else type(exc).__name__
    return text.splitlines()[0][:limit]


def print_error(exc: BallspotError) -> None:
    """The one line every entry point (CLI, DVC stage) prints for a user error, on stderr."""
    print(f"ballspot: error: {exc}", file=sys.stderr)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM: unwinds like Ctrl-C, so every atomic write drops its temporary."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def run_entry(func: Callable[[], Any]) -> int:
    """Run ``func`` as an entry point: a user error is one line and exit 1; SIGINT or SIGTERM
    is one line and exit 128 + the signal (what a shell reports), never a traceback."""
    def stop(signum: int, _frame: Any) -> None:
        raise Interrupted(signum)

    # SIGINT too: a process started in the background inherits it ignored
    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        func()
    except BallspotError as exc:
        print_error(exc)
        return 1
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        print(f"ballspot: interrupted ({signal.Signals(signum).name}); the outputs of this run "
              "were not written", file=sys.stderr)
        return 128 + int(signum)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0
