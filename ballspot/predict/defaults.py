"""What a spotting run uses when the user names no model: the ``spot`` params block.

Offline, the best models win (S4's 33-frame folds). Live, every frame of look-ahead and of
post-processing is latency: an event can only be confirmed once the model has seen the frames
after it, the smoothing has them, and no higher peak can follow within the peak distance
(:func:`ballspot.app.live.latency_floor_frames`). So live spotting has its own models (S1's
15-frame folds at every 2nd frame look 14 frames ahead; S3's, at every 4th, 28; S4's 64) and its
own post-processing overrides (a shorter peak distance), measured in the README ("Spotting a
live feed").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ballspot.core.errors import BallspotError
from ballspot.predict.postprocess import PostprocessParams


@dataclass(frozen=True)
class SpotDefaults:
    """The ``spot`` block: model folders (the first that exists is used) and live overrides."""

    models: Sequence[str] = ("models/finetune", "models/basic")
    live_models: Sequence[str] = ("models/basic", "models/tuning", "models/finetune")
    live_postprocess: Mapping[str, Any] = field(default_factory=lambda: {"distance": 4})

    @classmethod
    def from_params(cls, params: Mapping[str, Any], source: str | Path = "params.yaml"
                    ) -> SpotDefaults:
        """The ``spot`` block of a params mapping (the defaults above where it is absent); its
        kinds are checked with the rest of the file (:mod:`ballspot.pipeline.schema`)."""
        values = params.get("spot") or {}
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise BallspotError(source, f"unknown key(s) spot.{', spot.'.join(unknown)}")
        defaults = cls(**values)
        defaults.postprocess(PostprocessParams(), live=True, source=source)  # a bad key: now
        return defaults

    def model_paths(self, live: bool) -> list[Path]:
        """The first of the live or offline model folders that exists, as a one-item list."""
        candidates = [Path(p) for p in (self.live_models if live else self.models)]
        if not candidates:
            raise BallspotError(None, f"spot.{'live_models' if live else 'models'} names no "
                                      "model folder (pass --model)")
        for path in candidates:
            if path.exists():
                return [path]
        names = " nor ".join(map(str, candidates))
        raise BallspotError(candidates[-1], f"no model found (neither {names}; pull them with "
                                            "dvc pull, train with dvc repro, or pass --model)")

    def postprocess(self, base: PostprocessParams, live: bool,
                    source: str | Path = "params.yaml") -> PostprocessParams:
        """``base`` (the ``postprocess`` block), with the live overrides when ``live``."""
        if not live or not self.live_postprocess:
            return base
        try:
            return PostprocessParams.from_params({**base.to_dict(), **self.live_postprocess})
        except (ValueError, TypeError) as exc:
            raise BallspotError(source, f"bad spot.live_postprocess ({exc})") from None
