"""What every stage module shares: argument parsing, params loading, one-line errors."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from ballspot.core.errors import run_entry
from ballspot.pipeline.schema import load_checked_params


def run_stage(
    main: Callable[[argparse.Namespace], None], description: str | None,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """Parse ``--params`` into ``args.params_data`` and run ``main``; exit 1 on bad input."""
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="params file")
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args()

    def run() -> None:
        args.params_data = load_checked_params(args.params)
        main(args)

    sys.exit(run_entry(run))
