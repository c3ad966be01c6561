"""The official SoccerNet data: download with the ``SoccerNet`` package, unzip safely, verify.

Ball data (``spotting-ball-2023``): the package's ``downloadDataTask`` fetches one zip per split
(``train.zip``, ...); we unzip them into ``<root>/<task>/`` and check that every game named in the
params has its half videos (and, if labelled, its label file). SoccerNet-v2 action data (for
pre-training): the package's per-game downloader fetches ``Labels-v2.json`` and the half videos
into ``<root>/<task>/<league>/<season>/<game>/``, the same layout.

Secrets come from the environment only (``$SOCCERNET_PASSWORD``: the NDA password for the
ownCloud share; ``$HF_TOKEN``: a Hugging Face token for the gated datasets). They are never
printed, logged or written: the package's output is relayed through a filter that masks them.

The package does not raise on a wrong password (it prints the HTTP error and returns): a refused
password shows up as missing files, which we detect and report. It also sends a Google Analytics
event after each file, through ``requests`` with no timeout; we disable that for the duration of
the call, and bound every socket operation with ``DownloadConfig.timeout_s``.

Downloads fail early and keep what is good. Files collect in a download folder beside the
dataset root (``data/soccernet.download`` for ``data/soccernet``): the ball zips one split at a
time, the action data one game at a time, and every video is probed as soon as it has arrived,
before anything more is asked for. What passed is recorded there and kept when a run fails, so
the next run fetches only what is missing or was bad (a file cut short by a killed run is fetched
again). Errors name the path a file will have in the dataset, not the download folder. The data
stage then decodes everything there and moves it into place in one step
(:mod:`ballspot.pipeline.preparation`).
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
import shutil
import socket
import stat
import sys
import tempfile
import urllib.error
import urllib.request
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from ballspot.core.atomic import write_json
from ballspot.core.errors import BallspotError, first_line
from ballspot.data.soccernet import VIDEO_EXTS, DatasetSpec

SOURCES = ("EXRCSDrive", "HuggingFace")
SPLITS = ("train", "valid", "test", "challenge")
# the environment variables a secret may come from: a params file names one of these, never
# another variable of the environment
PASSWORD_ENVS = ("SOCCERNET_PASSWORD",)
TOKEN_ENVS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
MASK = "***"


def _safe_server(url: str) -> bool:
    """An https:// address, or plain http:// to this machine (a loopback test server)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


@dataclass(frozen=True)
class DownloadConfig:
    """How to fetch the official data (the ``data.download`` params block).

    ``source``: ``EXRCSDrive`` (the KAUST ownCloud share, NDA password in ``$<password_env>``)
    or ``HuggingFace`` (gated datasets, token in ``$<token_env>``). ``server``: ownCloud address
    override, e.g. a loopback test server; None = the package's default. ``timeout_s``: limit on
    each socket operation (connect, each read), not on a whole file. ``action_task_dir``: folder
    of the action data under the spec's root; None = the action spec's ``task``.
    """

    source: str = "EXRCSDrive"
    server: str | None = None
    splits: tuple[str, ...] = SPLITS
    password_env: str = "SOCCERNET_PASSWORD"
    token_env: str = "HF_TOKEN"
    action_splits: tuple[str, ...] = ("train", "valid")
    action_files: tuple[str, ...] = ("Labels-v2.json", "1_224p.mkv", "2_224p.mkv")
    action_task_dir: str | None = None
    timeout_s: float = 60.0
    verbose: bool = True

    def __post_init__(self) -> None:
        where = "download params"
        if self.source not in SOURCES:
            raise BallspotError(
                None, f"{where}: source {self.source!r} is not one of {list(SOURCES)}")
        for name in ("splits", "action_splits"):
            value = getattr(self, name)
            bad = [s for s in value if s not in SPLITS]
            if bad or not value:
                raise BallspotError(None, f"{where}: {name} {list(value)} must be a non-empty "
                                          f"subset of {list(SPLITS)}")
        if not self.action_files:
            raise BallspotError(None, f"{where}: action_files is empty")
        if not self.timeout_s > 0:
            raise BallspotError(None, f"{where}: timeout_s must be positive, got {self.timeout_s}")
        for name, allowed in (("password_env", PASSWORD_ENVS), ("token_env", TOKEN_ENVS)):
            if getattr(self, name) not in allowed:
                # a params file must not choose which secret of the environment is sent
                raise BallspotError(None, f"{where}: {name} must be one of {list(allowed)}, "
                                          f"got {getattr(self, name)!r}")
        if self.server is not None and not _safe_server(self.server):
            raise BallspotError(None, f"{where}: server {self.server!r} must be an https:// "
                                      "address (plain http only to this machine)")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DownloadConfig:
        """Build from a params block with keys named like the fields; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise BallspotError(
                None, f"download params: unknown key(s) {unknown} (known: {sorted(known)})")
        kwargs: dict[str, Any] = {}
        for key, value in params.items():
            if key in ("splits", "action_splits", "action_files"):
                if isinstance(value, str) or not isinstance(value, Sequence):
                    raise BallspotError(
                        None, f"download params: {key} must be a list, got {value!r}")
                value = tuple(str(v) for v in value)
            elif key == "timeout_s":
                value = float(value)
            elif key == "verbose":
                value = bool(value)
            elif value is not None:
                value = str(value)
            kwargs[key] = value
        return cls(**kwargs)


# ---------------------------------------------------------------------------------------------
# Safe unzip


def _check_member(zip_path: Path, info: zipfile.ZipInfo) -> PurePosixPath | None:
    """The member's relative path (None for the root itself); raises if it could escape."""
    name = info.filename
    bad = None
    if not name or "\x00" in name:
        bad = "an empty or NUL-containing name"
    elif "\\" in name:
        bad = "a backslash in its name"
    elif name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        bad = "an absolute path"
    elif ".." in PurePosixPath(name).parts:
        bad = "a '..' component"
    elif stat.S_ISLNK(info.external_attr >> 16):
        bad = "a symbolic link"
    if bad is not None:
        raise BallspotError(zip_path, f"unsafe member {name!r} ({bad}); nothing extracted")
    rel = PurePosixPath(*[p for p in PurePosixPath(name).parts if p not in ("", ".")])
    if not rel.parts:
        if info.is_dir():
            return None  # "./": the target folder itself
        raise BallspotError(
            zip_path, f"unsafe member {name!r} (names the target itself); nothing extracted")
    return rel


def safe_extract(zip_path: str | Path, target_dir: str | Path) -> list[Path]:
    """Unzip ``zip_path`` into ``target_dir``; return the extracted files (sorted).

    Every member is checked before anything is written: absolute paths, ``..`` components,
    backslashes and symbolic links are rejected with a :class:`BallspotError` naming the zip and
    the member. Members are extracted into a temporary folder beside ``target_dir`` and moved in
    only once all of them are out and their CRCs check, so an error leaves no partial output.
    Existing files in ``target_dir`` with the same relative path are replaced.
    """
    zip_path, target_dir = Path(zip_path), Path(target_dir)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BallspotError(zip_path, f"not a readable zip archive ({exc})") from None
    with archive:
        checked = [(info, _check_member(zip_path, info)) for info in archive.infolist()]
        members = [(info, rel) for info, rel in checked if rel is not None]
        target_dir.parent.mkdir(parents=True, exist_ok=True)
        needed = sum(info.file_size for info, _ in members)
        free = shutil.disk_usage(target_dir.parent).free
        if needed > free:
            raise BallspotError(zip_path, f"needs {needed / 1e9:.2f} GB to unzip, only "
                                          f"{free / 1e9:.2f} GB free under {target_dir.parent}")
        tmp = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.unzip.", dir=target_dir.parent))
        try:
            files: list[PurePosixPath] = []
            for info, rel in members:
                out = tmp.joinpath(*rel.parts)
                if info.is_dir():
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                try:
                    with archive.open(info) as src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst, length=1 << 20)
                except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
                    raise BallspotError(
                        zip_path, f"cannot extract {info.filename!r} ({exc})") from None
                files.append(rel)
            # Everything is out and CRC-checked: move it in. Same filesystem, so these are renames.
            target_dir.mkdir(parents=True, exist_ok=True)
            for info, rel in members:
                if info.is_dir():
                    target_dir.joinpath(*rel.parts).mkdir(parents=True, exist_ok=True)
            extracted = []
            for rel in files:
                dest = target_dir.joinpath(*rel.parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp.joinpath(*rel.parts), dest)
                extracted.append(dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return sorted(extracted)


# ---------------------------------------------------------------------------------------------
# Running the package's downloader under guard


class _MaskedStream(io.TextIOBase):
    """A text sink that masks secrets and keeps the last lines (to diagnose failures).

    Text is released only at line ends (``\\n`` or tqdm's ``\\r``), so a secret written in two
    pieces is still masked.
    """

    def __init__(self, sink: TextIO | None, secrets: Sequence[str], keep: int = 200) -> None:
        super().__init__()
        self._sink = sink
        self._secrets = [s for s in secrets if s]
        self._pending = ""
        self._keep = keep
        self.lines: list[str] = []

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        cut = max(self._pending.rfind("\n"), self._pending.rfind("\r"))
        if cut >= 0:
            done, self._pending = self._pending[: cut + 1], self._pending[cut + 1 :]
            self._release(done)
        return len(text)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def _release(self, text: str) -> None:
        text = self.mask(text)
        for line in text.replace("\r", "\n").split("\n"):
            if line.strip():
                self.lines.append(line.strip())
        del self.lines[: -self._keep]
        if self._sink is not None:
            self._sink.write(text)
            self._sink.flush()

    def flush(self) -> None:
        if self._sink is not None:
            self._sink.flush()

    def close(self) -> None:
        if self._pending:
            self._release(self._pending + "\n")
            self._pending = ""
        super().close()

    def refused(self) -> bool:
        """Whether the package printed an authentication refusal."""
        return any("HTTP Error 401" in line or "HTTP Error 403" in line for line in self.lines)

    def http_errors(self) -> list[str]:
        return [line for line in self.lines if line.startswith("HTTP Error")]


def _no_analytics(*args: Any, **kwargs: Any) -> None:
    """Stand-in for ``google_measurement_protocol.report`` (a POST with no timeout)."""


@contextmanager
def _guarded(config: DownloadConfig, secret: str) -> Iterator[_MaskedStream]:
    """Run the package with analytics off, bounded sockets, masked output, and a clean exit.

    Restores afterwards: the package's ``report`` and ``snapshot_download``, the socket default
    timeout, and urllib's global opener (the package installs one holding the password).
    """
    from SoccerNet import Downloader as sn_downloader  # noqa: N813 (the module, patched below)

    stream = _MaskedStream(sys.stderr if config.verbose else None, [secret])
    saved_report = sn_downloader.report
    saved_snapshot = sn_downloader.snapshot_download
    saved_opener = urllib.request._opener  # private, but the only way to undo install_opener
    saved_timeout = socket.getdefaulttimeout()
    sn_downloader.report = _no_analytics
    if config.source == "HuggingFace":
        sn_downloader.snapshot_download = functools.partial(
            saved_snapshot, token=secret, etag_timeout=config.timeout_s)
    socket.setdefaulttimeout(config.timeout_s)
    try:
        with warnings.catch_warnings(), redirect_stdout(stream), redirect_stderr(stream):
            # The package warns that EXRCSDrive is deprecated; that is our documented choice.
            warnings.simplefilter("ignore", DeprecationWarning)
            yield stream
    finally:
        stream.close()
        sn_downloader.report = saved_report
        sn_downloader.snapshot_download = saved_snapshot
        urllib.request.install_opener(saved_opener)
        socket.setdefaulttimeout(saved_timeout)


def _secret(config: DownloadConfig, env: Mapping[str, str]) -> str:
    """The NDA password or the HF token, from the environment; a one-line error if unset."""
    if config.source == "HuggingFace":
        name = config.token_env
        what = "a Hugging Face token with access to the gated SoccerNet datasets"
    else:
        name = config.password_env
        what = "the SoccerNet NDA password (https://www.soccer-net.org/data)"
    value = env.get(name, "")
    if not value:
        raise BallspotError(None, f"download: ${name} is not set; set it to {what}")
    return value


def _server(config: DownloadConfig) -> str:
    if config.server:
        return config.server
    import inspect

    from SoccerNet.Downloader import SoccerNetDownloader

    return str(inspect.signature(SoccerNetDownloader.__init__).parameters["OwnCloudServer"].default)


def _downloader(local_dir: Path, config: DownloadConfig) -> Any:
    from SoccerNet.Downloader import SoccerNetDownloader

    if config.server:
        return SoccerNetDownloader(LocalDirectory=str(local_dir), OwnCloudServer=config.server)
    return SoccerNetDownloader(LocalDirectory=str(local_dir))


def _refused_message(config: DownloadConfig) -> str:
    if config.source == "HuggingFace":
        return (f"download failed: Hugging Face refused the token in ${config.token_env} "
                "(no access granted to the gated dataset?)")
    return (f"download failed: the server refused the password in ${config.password_env} "
            "(wrong NDA password?)")


@contextmanager
def _translate_errors(config: DownloadConfig, stream: _MaskedStream, where: Path) -> Iterator[None]:
    """Turn the package's network exceptions into one-line errors, with any secret masked."""
    try:
        yield
    except BallspotError:
        raise
    except PermissionError as exc:  # the package's wrapper for HF 401/403
        if config.source == "HuggingFace":
            raise BallspotError(where, _refused_message(config)) from None
        raise BallspotError(where, f"download failed: {stream.mask(str(exc))}") from None
    except TimeoutError:
        raise BallspotError(where, f"download failed: no answer from {_server(config)} within "
                                   f"{config.timeout_s:g} s") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise BallspotError(where, f"download failed: no answer from {_server(config)} within "
                                       f"{config.timeout_s:g} s") from None
        raise BallspotError(where, f"download failed: cannot reach {_server(config)} "
                                   f"({stream.mask(str(exc.reason))})") from None
    except Exception as exc:
        # huggingface_hub errors (offline, gated, hub down) and anything else the package raises.
        detail = first_line(stream.mask(str(exc))) or type(exc).__name__
        raise BallspotError(where, f"download failed: {type(exc).__name__}: {detail}") from None


def _missing_message(
    config: DownloadConfig, stream: _MaskedStream | None, missing: list[str], staging: Path
) -> str:
    if stream is not None and stream.refused():
        return _refused_message(config)
    errors = [] if stream is None else stream.http_errors()
    found = sorted(p.name for p in staging.iterdir()) if staging.is_dir() else []
    detail = f"; the server said {errors[-1]!r}" if errors else ""
    return (f"{len(missing)} expected file(s) missing after download{detail} "
            f"(top-level entries found: {found[:5]})")


# ---------------------------------------------------------------------------------------------
# What has arrived and passed its check: kept across runs


def download_dir(root: str | Path) -> Path:
    """Where a download collects its files (``<root>.download`` beside the dataset root): they
    stay there across failed runs, so a re-run fetches only what is missing or was bad."""
    root = Path(root)
    return root.parent / f"{root.name}.download"


class _Kept:
    """The downloaded files that passed their check, by unit (a split's zip, an action game).

    The record (``.checked.json`` in the download folder) is rewritten atomically after each
    unit, so a killed run keeps every unit checked before it; a unit's files that are on disk
    but not recorded (a download cut short) are fetched again.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / ".checked.json"
        self.units: dict[str, list[str]] = {}
        if self.path.is_file():
            try:
                self.units = {str(k): [str(f) for f in v]
                              for k, v in json.loads(self.path.read_text()).items()}
            except (ValueError, AttributeError, TypeError):
                self.units = {}  # an unreadable record: everything is checked again

    def has(self, unit: str) -> bool:
        files = self.units.get(unit)
        return files is not None and all((self.folder / f).is_file() for f in files)

    def add(self, unit: str, files: Sequence[Path]) -> None:
        self.units[unit] = sorted(p.relative_to(self.folder).as_posix() for p in files)
        self._save()

    def drop(self, unit: str) -> None:
        """Forget ``unit`` and delete its files (a bad one among them)."""
        for name in self.units.pop(unit, []):
            (self.folder / name).unlink(missing_ok=True)
        self._save()

    def unit_of(self, path: Path) -> tuple[str, str] | None:
        """The unit that recorded ``path`` (a file in the download folder) and the path's name
        relative to the folder, if any unit did."""
        try:
            rel = Path(path).resolve().relative_to(self.folder.resolve()).as_posix()
        except ValueError:
            return None
        unit = next((unit for unit, files in self.units.items() if rel in files), None)
        return None if unit is None else (unit, rel)

    def refetch_error(self, final: str | Path | None, problem: str) -> BallspotError:
        """The one-line error for a bad file that was deleted so that the next run fetches it
        again, with what is kept for that run."""
        return BallspotError(final, f"{problem}; removed it, re-run to fetch it again "
                                    f"({self.summary()})")

    def _save(self) -> None:
        write_json(self.path, self.units)

    def summary(self) -> str:
        count = sum(len(files) for files in self.units.values())
        if not count:
            return "nothing arrived whole before it"
        return f"{count} checked file(s) kept in {self.folder} for the next run"


def forget_bad_file(exc: BallspotError, keep: Path, root: Path) -> BallspotError:
    """A later check (the data stage's full decode) found a bad file in the download folder
    ``keep``: delete it with the rest of its unit, so the next run fetches them again, and name
    the path it would have had in the dataset ``root``."""
    kept = _Kept(keep)
    found = None if exc.path is None else kept.unit_of(Path(exc.path))
    if found is None:
        return exc
    unit, rel = found
    kept.drop(unit)
    return kept.refetch_error(root / rel, exc.problem)


def _first_missing(path: Path) -> Path | None:
    """The topmost ancestor of ``path`` (or itself) that does not exist yet."""
    missing = None
    for candidate in [path, *path.parents]:
        if candidate.exists():
            break
        missing = candidate
    return missing


def _remove_if_empty(kept: _Kept, created: Path | None) -> None:
    """After a failure: remove the download folder (and the parents this run created for it)
    if no checked file is kept in it."""
    if not any(kept.has(unit) for unit in kept.units):
        shutil.rmtree(created or kept.folder, ignore_errors=True)


def _check_arrived(files: Sequence[Path], final_of: Callable[[Path], Path], fps: float,
                   kept: _Kept) -> None:
    """Check files as soon as they have arrived: videos are probed (container, stream, frame
    rate, timestamps), label files must be JSON (their content is the data stage's check). On a
    bad one every file of the unit is deleted, and the error names the bad file's final path."""
    from ballspot.data.video import probe_video

    try:
        for path in files:
            if path.suffix.lstrip(".") in VIDEO_EXTS:
                try:
                    probe_video(path, fps)
                except BallspotError as exc:
                    raise BallspotError(final_of(path), exc.problem) from None
            elif path.suffix == ".json":
                try:
                    json.loads(path.read_bytes())
                except (ValueError, OSError) as exc:
                    raise BallspotError(final_of(path), f"not a JSON label file "
                                                        f"({type(exc).__name__})") from None
    except BallspotError as exc:
        for path in files:
            path.unlink(missing_ok=True)
        raise kept.refetch_error(exc.path, exc.problem) from None


def _usable_zip(path: Path) -> bool:
    """Whether ``path`` is a whole zip (a download cut short is not: it is fetched again)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (zipfile.BadZipFile, OSError, EOFError):
        return False


# ---------------------------------------------------------------------------------------------
# Ball data


def _ball_games(spec: DatasetSpec, config: DownloadConfig) -> tuple[list[str], list[str]]:
    """(labelled, unlabelled) games to verify: the params' games, else the package's lists."""
    labelled = list(spec.labelled_games)
    unlabelled = list(spec.challenge) if "challenge" in config.splits else []
    if labelled or unlabelled:
        return labelled, unlabelled
    from SoccerNet.utils import getListGames

    labelled = [g for s in config.splits if s != "challenge"
                for g in getListGames(s, task="spotting-ball")]
    unlabelled = (getListGames("challenge", task="spotting-ball")
                  if "challenge" in config.splits else [])
    return labelled, unlabelled


def _missing_ball_files(spec: DatasetSpec, local: DatasetSpec, config: DownloadConfig) -> list[str]:
    labelled, unlabelled = _ball_games(spec, config)
    missing = []
    for game in labelled + unlabelled:
        for half in spec.halves:
            if local.find_video(game, half) is None:
                missing.append(f"{game}/{spec.video_stem(half)}.{{{','.join(VIDEO_EXTS)}}}")
        if game in labelled and not local.label_path(game).is_file():
            missing.append(f"{game}/{spec.label_file}")
    return missing


def download_ball_dataset(
    spec: DatasetSpec, config: DownloadConfig, env: Mapping[str, str] = os.environ,
    keep: str | Path | None = None,
) -> Path:
    """Download ``spec.task`` for ``config.splits`` into ``keep`` (default
    :func:`download_dir` of ``spec.root``) in the dataset's layout; return ``keep``.

    One split at a time: its zip is fetched, unzipped safely and every video in it probed
    before the next split is asked for, so a bad file stops the download early. A split that
    passed in an earlier run is not fetched again; a zip cut short is. Then every game in
    ``spec.folds`` and ``spec.challenge`` (if the challenge split is downloaded; the package's
    ball game lists if the spec names no games) must have its half videos and, if labelled, its
    label file. Errors (:class:`BallspotError`: an unset secret, a refused password or token, an
    unreachable or silent server, an unsafe or broken zip, a bad or missing file) name the path
    the file will have in ``spec.root``; what passed stays in ``keep``.
    """
    secret = _secret(config, env)
    keep = download_dir(spec.root) if keep is None else Path(keep)
    created = _first_missing(keep)
    kept = _Kept(keep)
    task_dir = keep / spec.task
    zips_dir = keep / ".zips"
    try:
        for split in config.splits:
            unit = f"{spec.task}/{split}.zip"
            if kept.has(unit):
                continue
            zip_path = zips_dir / spec.task / f"{split}.zip"
            if zip_path.exists() and not _usable_zip(zip_path):
                zip_path.unlink()  # cut short by a killed run: the package would skip it
            with (_guarded(config, secret) as stream,
                  _translate_errors(config, stream, spec.task_dir / f"{split}.zip")):
                dl = _downloader(zips_dir, config)
                password = secret if config.source == "EXRCSDrive" else "SoccerNet"
                dl.downloadDataTask(task=spec.task, split=[split], password=password,
                                    source=config.source)
            if not zip_path.is_file():
                where = spec.task_dir / f"{split}.zip"
                if stream.refused():
                    raise BallspotError(where, _refused_message(config))
                errors = stream.http_errors()
                said = f": the server said {errors[-1]!r}" if errors else ""
                raise BallspotError(where, f"download failed: {split}.zip not received{said}")
            try:
                files = safe_extract(zip_path, task_dir)
            except BallspotError as exc:
                zip_path.unlink()
                raise kept.refetch_error(spec.task_dir / f"{split}.zip", exc.problem) from None
            zip_path.unlink()
            _check_arrived(files, lambda path: spec.task_dir / path.relative_to(task_dir),
                           spec.fps, kept)
            kept.add(unit, files)
        shutil.rmtree(zips_dir, ignore_errors=True)
        local = dataclasses.replace(spec, root=keep)
        missing = _missing_ball_files(spec, local, config)
        if missing:
            raise BallspotError(spec.task_dir / missing[0],
                                _missing_message(config, None, missing, task_dir)
                                + f" ({kept.summary()})")
    except BaseException:
        _remove_if_empty(kept, created)
        raise
    return keep


# ---------------------------------------------------------------------------------------------
# SoccerNet-v2 action data


def download_action_dataset(
    spec: DatasetSpec, config: DownloadConfig, env: Mapping[str, str] = os.environ,
    games: Mapping[str, Sequence[str]] | None = None, keep: str | Path | None = None,
) -> Path:
    """Download SoccerNet-v2 games (``config.action_files`` each) for ``config.action_splits``
    into ``keep`` (default :func:`download_dir` of ``spec.root``); return ``keep``.

    Target layout: ``keep / (config.action_task_dir or spec.task)``, games as
    ``<league>/<season>/<game>/``. ``games`` maps a split to its games; None = the package's
    SoccerNet-v2 lists (``getListGames(split, task="spotting")``: 300 train, 100 valid). Each
    game's videos are probed as soon as it has arrived, and a game that passed in an earlier run
    is not fetched again. On EXRCSDrive the labels come from a public share and the videos from
    the NDA share, so a wrong password leaves the labels and no videos: that is reported as a
    refused password. Raises :class:`BallspotError` like :func:`download_ball_dataset`.
    """
    secret = _secret(config, env)
    keep = download_dir(spec.root) if keep is None else Path(keep)
    task = config.action_task_dir or spec.task
    final_dir, task_dir = spec.root / task, keep / task
    if games is None:
        from SoccerNet.utils import getListGames

        games = {split: getListGames(split, task="spotting") for split in config.action_splits}
    created = _first_missing(keep)
    kept = _Kept(keep)
    try:
        for split in config.action_splits:
            todo = [g for g in games.get(split, ()) if not kept.has(f"{task}/{g}")]
            for game in todo:  # files of a game not recorded as checked may be cut short
                for name in config.action_files:
                    (task_dir / game / name).unlink(missing_ok=True)
            if config.source == "HuggingFace" and todo:
                # One snapshot per (repo, branch) for the whole split, as the package's own
                # downloadGames does; per-game calls would hit Hub rate limits.
                with (_guarded(config, secret) as stream,
                      _translate_errors(config, stream, final_dir)):
                    _downloader(task_dir, config)._downloadGames_huggingface(
                        todo, list(config.action_files), split)
                shutil.rmtree(task_dir / ".cache", ignore_errors=True)  # huggingface_hub's
            for game in todo:
                if config.source == "EXRCSDrive":
                    with (_guarded(config, secret) as stream,
                          _translate_errors(config, stream, final_dir / game)):
                        dl = _downloader(task_dir, config)
                        dl.password = secret
                        dl.downloadGame(game=game, files=list(config.action_files), spl=split,
                                        source=config.source)
                _check_action_game(spec, config, task, game, kept, stream)
    except BaseException:
        _remove_if_empty(kept, created)
        raise
    return keep


def _check_action_game(spec: DatasetSpec, config: DownloadConfig, task: str, game: str,
                       kept: _Kept, stream: _MaskedStream) -> None:
    """Record a game that has arrived whole and whose videos probe; else a one-line error."""
    unit = f"{task}/{game}"
    folder, final = kept.folder / task / game, spec.root / task / game
    missing = [name for name in config.action_files if not (folder / name).is_file()]
    if missing:
        for name in config.action_files:
            (folder / name).unlink(missing_ok=True)
        raise BallspotError(final / missing[0], _missing_message(
            config, stream, [f"{game}/{name}" for name in missing], kept.folder / task)
            + f" ({kept.summary()})")
    files = [folder / name for name in config.action_files]
    _check_arrived(files, lambda path: final / path.name, spec.fps, kept)
    kept.add(unit, files)
