"""Loading ``params.yaml``: plain YAML data, one block per stage."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ballspot.core.errors import BallspotError, first_line


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """Read the params file; a missing file or bad YAML is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise BallspotError(path, "params file not found")
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise BallspotError(path, f"malformed YAML ({first_line(exc)})") from None
    if not isinstance(params, dict):
        raise BallspotError(path, "params must be a mapping of blocks")
    return params


def block(params: Mapping[str, Any], name: str, source: str | Path = "params.yaml") -> Any:
    """One top-level block of the params, with a clear error when it is missing."""
    if name not in params:
        raise BallspotError(source, f"missing params block '{name}'")
    return params[name]
