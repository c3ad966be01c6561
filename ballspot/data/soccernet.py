"""The SoccerNet folder layout and label files (``Labels-ball.json``, ``Labels-v2.json``).

Layout: ``<root>/<task>/<league>/<season>/<game>/`` holding one video per half
(``1_<res>.<ext>``, ``2_<res>.<ext>``) and the label file. A *game* is named by its path
relative to the task folder, e.g. ``england_efl/2019-2020/2019-10-01 - Reading - Fulham``.
Positions are milliseconds since the start of the half's video; the frame rule is
``frame = round(position * fps / 1000)`` (the 2023 solution's rule).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from ballspot.core.atomic import write_json
from ballspot.core.errors import BallspotError

FPS = 25.0
VIDEO_EXTS = ("mkv", "mp4")
VISIBILITIES = ("visible", "not shown")


def position_to_frame(position: int | float | str, fps: float = FPS) -> int:
    """Frame index (0-based) of a position in ms, by the SoccerNet label rule."""
    return round(float(position) * fps * 0.001)


def frame_to_position(frame: int, fps: float = FPS) -> int:
    """Position in ms of a frame index; inverse of :func:`position_to_frame` on exact frames."""
    return round(frame / fps * 1000)


def game_time(half: int, frame: int, fps: float = FPS) -> str:
    """SoccerNet ``gameTime`` string ``"<half> - MM:SS"`` for a frame of a half."""
    seconds = int(frame / fps)
    return f"{half} - {seconds // 60:02d}:{seconds % 60:02d}"


@dataclass(frozen=True, order=True)
class Annotation:
    """One labelled event of one half, on an exact frame."""

    half: int
    frame: int
    label: str
    team: str = "not applicable"
    visibility: str = "visible"

    def to_json(self, fps: float = FPS) -> dict[str, str]:
        """The annotation as a SoccerNet label dict (position as a string of ms)."""
        return {
            "gameTime": game_time(self.half, self.frame, fps),
            "label": self.label,
            "position": str(frame_to_position(self.frame, fps)),
            "team": self.team,
            "visibility": self.visibility,
        }


def _parse_annotation(
    item: Any, index: int, path: Path, classes: Sequence[str] | None,
    halves: Sequence[int] | None, fps: float,
) -> Annotation:
    where = f"annotation {index}"
    if not isinstance(item, Mapping):
        raise BallspotError(path, f"{where} is not an object")
    for key in ("gameTime", "label", "position"):
        if key not in item:
            raise BallspotError(path, f"{where} has no '{key}'")
    game_time_str = str(item["gameTime"])
    half_str = game_time_str.split(" - ")[0].strip()
    if not half_str.isdigit():
        raise BallspotError(path, f"{where} has a malformed gameTime {game_time_str!r}")
    half = int(half_str)
    if halves is not None and half not in halves:
        raise BallspotError(path, f"{where} is in half {half}, expected one of {list(halves)}")
    label = str(item["label"])
    if classes is not None and label not in classes:
        raise BallspotError(path, f"{where} has unknown class {label!r} (known: {list(classes)})")
    try:
        position = float(item["position"])
    except (TypeError, ValueError):
        problem = f"{where} has a non-numeric position {item['position']!r}"
        raise BallspotError(path, problem) from None
    if position < 0:
        raise BallspotError(path, f"{where} has a negative position {position:g}")
    visibility = str(item.get("visibility", "visible"))
    return Annotation(half, position_to_frame(position, fps), label,
                      str(item.get("team", "not applicable")), visibility)


def read_labels(
    path: str | Path, classes: Sequence[str] | None = None,
    halves: Sequence[int] | None = None, fps: float = FPS,
) -> list[Annotation]:
    """Read a SoccerNet label file; every annotation is kept, even two on one frame.

    Raises :class:`BallspotError` naming the file on a missing file, malformed JSON, a
    missing field, an unknown class (when ``classes`` is given) or an unexpected half.
    """
    path = Path(path)
    if not path.is_file():
        raise BallspotError(path, "label file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BallspotError(path, f"malformed labels JSON ({exc})") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("annotations"), list):
        raise BallspotError(path, "malformed labels JSON (no 'annotations' list)")
    annotations = [
        _parse_annotation(item, i, path, classes, halves, fps)
        for i, item in enumerate(data["annotations"])
    ]
    return sorted(annotations, key=lambda a: (a.half, a.frame))


def write_labels(
    path: str | Path, game: str, annotations: Iterable[Annotation], fps: float = FPS
) -> None:
    """Write a SoccerNet label file (sorted by half and position) atomically."""
    items = [a.to_json(fps) for a in sorted(annotations, key=lambda a: (a.half, a.frame))]
    write_json(path, {"UrlLocal": game, "UrlYoutube": "", "annotations": items})


def check_game(game: Any, source: str | Path | None = "params.yaml") -> str:
    """``game`` if it names a folder inside the dataset (``league/season/game``), else a
    one-line error: an absolute path, ``..`` or a drive would leave the dataset root."""
    text = game if isinstance(game, str) else ""
    parts = PurePosixPath(text).parts
    if (not text or text.startswith(("/", "~")) or "\\" in text or PureWindowsPath(text).drive
            or any(part in ("..", ".") for part in parts) or "//" in text):
        raise BallspotError(source, f"game {game!r} must be a path inside the dataset "
                                    "(league/season/game), without '..', '/' or '~' at the start")
    return text


def _folds(folds: Any) -> tuple[tuple[str, ...], ...]:
    """Folds as a tuple of game tuples, from a list or a ``{fold index: games}`` mapping."""
    if isinstance(folds, Mapping):
        keys = sorted(int(k) for k in folds)
        if keys != list(range(len(keys))):
            raise BallspotError("params.yaml", f"fold keys must be 0..{len(keys) - 1}, got {keys}")
        folds = [folds[k] if k in folds else folds[str(k)] for k in keys]
    return tuple(tuple(check_game(g) for g in games) for games in folds)


@dataclass(frozen=True)
class DatasetSpec:
    """Where a SoccerNet-format dataset lives and how its games are split (from params)."""

    root: Path
    task: str
    label_file: str = "Labels-ball.json"
    classes: tuple[str, ...] = ("PASS", "DRIVE")
    halves: tuple[int, ...] = (1, 2)
    resolution: str = "224p"
    video_pattern: str = "{half}_{resolution}"
    folds: tuple[tuple[str, ...], ...] = ()
    test_folds: tuple[int, ...] = ()
    challenge: tuple[str, ...] = ()
    fps: float = FPS

    @classmethod
    def from_params(cls, params: Mapping[str, Any], root: str | Path | None = None) -> DatasetSpec:
        """Build from a params block with keys named like the fields."""
        return cls(
            root=Path(root if root is not None else params["root"]),
            task=str(params["task"]),
            label_file=str(params.get("label_file", "Labels-ball.json")),
            classes=tuple(params.get("classes", ("PASS", "DRIVE"))),
            halves=tuple(int(h) for h in params.get("halves", (1, 2))),
            resolution=str(params.get("resolution", "224p")),
            video_pattern=str(params.get("video_pattern", "{half}_{resolution}")),
            folds=_folds(params.get("folds", ())),
            test_folds=tuple(int(f) for f in params.get("test_folds", ())),
            challenge=tuple(check_game(g) for g in params.get("challenge", ())),
            fps=float(params.get("fps", FPS)),
        )

    @property
    def task_dir(self) -> Path:
        return self.root / self.task

    @property
    def labelled_games(self) -> list[str]:
        return [game for fold in self.folds for game in fold]

    def fold_of(self, game: str) -> int:
        """The fold whose validation set holds ``game``."""
        for k, games in enumerate(self.folds):
            if game in games:
                return k
        raise KeyError(game)

    def train_games(self, fold: int) -> list[str]:
        """Every labelled game outside ``fold`` (leave-one-fold-out)."""
        return [g for k, games in enumerate(self.folds) if k != fold for g in games]

    def game_dir(self, game: str) -> Path:
        return self.task_dir / check_game(game)

    def label_path(self, game: str) -> Path:
        return self.game_dir(game) / self.label_file

    def video_stem(self, half: int) -> str:
        return self.video_pattern.format(half=half, resolution=self.resolution)

    def find_video(self, game: str, half: int) -> Path | None:
        """The half's video file, trying each known container extension."""
        for ext in VIDEO_EXTS:
            path = self.game_dir(game) / f"{self.video_stem(half)}.{ext}"
            if path.exists():
                return path
        return None


@dataclass
class HalfVideo:
    """One half of one game: its video, stream facts and annotations."""

    game: str
    half: int
    path: Path
    num_frames: int
    fps: float
    width: int
    height: int
    annotations: list[Annotation] = field(default_factory=list)
    clipped: int = 0  # labels past the end of the video, moved onto its last frame


def load_game(
    spec: DatasetSpec, game: str, labelled: bool = True, any_class: bool = False,
    clip_past_end: bool | None = None,
) -> list[HalfVideo]:
    """Open and check one game: every half's video and (if ``labelled``) its labels.

    Raises :class:`BallspotError` on a missing game folder, a missing half, a bad video,
    bad labels (an unknown class unless ``any_class``), or a label past the end of its video.
    ``clip_past_end`` (default: ``any_class``, the action dataset) moves such labels onto the
    last frame with a one-line notice instead, as the 2023 solution's action loader does
    (SoccerNet-v2 has a few).
    """
    from ballspot.data.video import probe_video

    game_dir = spec.game_dir(game)
    if not game_dir.is_dir():
        raise BallspotError(game_dir, "game folder not found")
    annotations: list[Annotation] = []
    if labelled:
        classes = None if any_class else spec.classes
        annotations = read_labels(spec.label_path(game), classes, spec.halves, spec.fps)
    halves = []
    for half in spec.halves:
        path = spec.find_video(game, half)
        if path is None:
            missing = game_dir / f"{spec.video_stem(half)}.{{{','.join(VIDEO_EXTS)}}}"
            raise BallspotError(missing, f"video of half {half} not found")
        info = probe_video(path, expect_fps=spec.fps)
        own = [a for a in annotations if a.half == half]
        past = [a for a in own if a.frame >= info.num_frames]
        if past and not (any_class if clip_past_end is None else clip_past_end):
            a = past[0]
            raise BallspotError(
                spec.label_path(game),
                f"{a.label} at {a.to_json(spec.fps)['position']} ms (frame {a.frame}) is past "
                f"the end of half {half} ({info.num_frames} frames in {path.name})",
            )
        if past:
            last = info.num_frames - 1
            own = [dataclasses.replace(a, frame=last) if a.frame > last else a for a in own]
            print(f"ballspot: {spec.label_path(game)}: {len(past)} label(s) past the end of "
                  f"half {half} moved onto its last frame ({last})", file=sys.stderr)
        halves.append(HalfVideo(game, half, path, info.num_frames, info.fps, info.width,
                                info.height, own, len(past)))
    return halves


def list_games(task_dir: str | Path, label_file: str | None = None) -> list[str]:
    """Games (``league/season/game``) under a task folder, found by walking it."""
    task_dir = Path(task_dir)
    games = set()
    for path in task_dir.glob("*/*/*"):
        if path.is_dir() and (label_file is None or (path / label_file).is_file()):
            games.add(path.relative_to(task_dir).as_posix())
    return sorted(games)


def load_games(spec: DatasetSpec, games: Sequence[str], labelled: bool = True
               ) -> list[HalfVideo]:
    """Every half of ``games``, checked (videos probed, labels validated)."""
    return [half for game in games for half in load_game(spec, game, labelled)]
