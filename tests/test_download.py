"""The official-data path, run for real against a loopback stand-in for the ownCloud share.

The stand-in serves files the way ``exrcsdrive.kaust.edu.sa/public.php/webdav/`` does for a
public share: HTTP basic auth with the share id as the user and the share password, 401 with a
``WWW-Authenticate`` challenge when either is wrong, 404 for a missing file. The real
``SoccerNet`` downloader talks to it; only the server address differs from a real run.
"""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import threading
import time
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from SoccerNet import Downloader as sn_downloader  # noqa: N813 (the module)
from videos import make_index_video

from ballspot.core.errors import BallspotError
from ballspot.data.download import (
    DownloadConfig,
    _MaskedStream,
    download_action_dataset,
    download_ball_dataset,
    download_dir,
    forget_bad_file,
    safe_extract,
)
from ballspot.data.soccernet import DatasetSpec, read_labels

SECRET = "nda-S3cr3t-7f2c"  # the NDA password the share accepts
WRONG = "wr0ng-Guess-91ab"
BALL_SHARE = "A1ncJfjV31lPSTa"  # the package's share id for spotting-ball-2023
VIDEO_224P_SHARE = "MKmZigARdGSoaTT"  # SoccerNet-v2 224p videos (NDA password)
LABELS_SHARE = "ZDeEfBzCzseRCLA"  # SoccerNet-v2 labels (public password "SoccerNet")
WEBDAV = "/public.php/webdav/"

LEAGUE = "england_efl/2019-2020"
TRAIN = (f"{LEAGUE}/2019-10-01 - Alpha Town - Beta City", f"{LEAGUE}/2019-10-01 - Gamma - Delta")
VALID = (f"{LEAGUE}/2019-10-01 - Epsilon - Zeta",)
TEST = (f"{LEAGUE}/2019-10-01 - Eta - Theta",)
CHALLENGE = (f"{LEAGUE}/2019-10-02 - Iota - Kappa",)


@dataclass
class Share:
    password: str
    files: dict[str, bytes]  # path under the webdav root -> body


@dataclass
class OwnCloudStub:
    """A loopback ownCloud public-share server; records (path, user, status) per request."""

    shares: dict[str, Share]
    requests: list[tuple[str, str | None, int]] = field(default_factory=list)
    raw_lines: list[str] = field(default_factory=list)
    url: str = ""


def _handler(stub: OwnCloudStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 5  # a stuck client cannot hold a server thread

        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.raw_lines_append()
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            user = password = None
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            share = stub.shares.get(user or "")
            if share is None or password != share.password or not path.startswith(WEBDAV):
                stub.requests.append((path, user, 401))
                self._send(401, b"Unauthorized", {"WWW-Authenticate": 'Basic realm="ownCloud"'})
                return
            body = share.files.get(path[len(WEBDAV):])
            status = 404 if body is None else 200
            stub.requests.append((path, user, status))
            self._send(status, b"Not Found" if body is None else body,
                       {"Content-Type": "application/octet-stream"})

        def raw_lines_append(self) -> None:
            stub.raw_lines.append(self.requestline)

    return Handler


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """Start stubs on 127.0.0.1; each stops at teardown, or by itself after 60 s."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    servers = []

    def start(shares: dict[str, Share]) -> OwnCloudStub:
        stub = OwnCloudStub(shares)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        stopper = threading.Timer(60, server.shutdown)
        stopper.daemon = True
        stopper.start()
        servers.append((server, stopper))
        stub.url = f"http://127.0.0.1:{server.server_address[1]}{WEBDAV}"
        return stub

    yield start
    for server, stopper in servers:
        stopper.cancel()
        server.shutdown()
        server.server_close()


@pytest.fixture
def no_analytics_allowed(monkeypatch: pytest.MonkeyPatch) -> list:
    """Replace the package's analytics call with a recorder: any call is a failure."""
    calls: list = []
    monkeypatch.setattr(sn_downloader, "report", lambda *a, **k: calls.append(a))
    return calls


def _labels(game: str) -> bytes:
    annotations = [{"gameTime": "1 - 00:01", "label": "PASS", "position": "1000",
                    "team": "left", "visibility": "visible"},
                   {"gameTime": "2 - 00:02", "label": "DRIVE", "position": "2040",
                    "team": "right", "visibility": "visible"}]
    return json.dumps({"UrlLocal": game, "UrlYoutube": "", "annotations": annotations}).encode()


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in entries.items():
            archive.writestr(name, body)
    return buffer.getvalue()


@cache
def _video(tag: str) -> bytes:
    """A real 25 fps video of 8 frames whose pixels depend on ``tag`` (probing needs one)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "v.mkv"
        make_index_video(path, 8, 32, 32, seed=zlib.crc32(tag.encode()) % 1000)
        return path.read_bytes()


def _split_zip(games: tuple[str, ...], labelled: bool, bad: str | None = None) -> bytes:
    entries = {}
    for game in games:
        for half in (1, 2):
            name = f"{game}/{half}_224p.mkv"
            entries[name] = b"not a video" if name == bad else _video(f"video {game} {half}")
        if labelled:
            entries[f"{game}/Labels-ball.json"] = _labels(game)
    return _zip(entries)


def _ball_share(password: str = SECRET, skip: str | None = None,
                bad_test_video: str | None = None) -> dict[str, Share]:
    files = {"train.zip": _split_zip(TRAIN, True), "valid.zip": _split_zip(VALID, True),
             "test.zip": _split_zip(TEST, True, bad_test_video),
             "challenge.zip": _split_zip(CHALLENGE, False)}
    if skip:  # a game left out of its zip, as if the params named a game the zips lack
        files["train.zip"] = _split_zip(tuple(g for g in TRAIN if g != skip), True)
    return {BALL_SHARE: Share(password, files)}


def _ball_spec(root: Path) -> DatasetSpec:
    return DatasetSpec(root=root, task="spotting-ball-2023",
                       folds=(TRAIN[:1], TRAIN[1:], VALID, TEST), challenge=CHALLENGE)


def _files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def _assert_secret_nowhere(secret: str, text: str, folder: Path) -> None:
    assert secret not in text
    for path in _files_under(folder):
        assert secret.encode() not in path.read_bytes(), path


def test_ball_download_from_owncloud_share_gives_soccernet_layout(
    serve, no_analytics_allowed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stub = serve(_ball_share())
    spec = _ball_spec(tmp_path / "soccernet")
    opener, timeout = urllib.request._opener, socket.getdefaulttimeout()
    start = time.monotonic()
    keep = download_ball_dataset(spec, DownloadConfig(server=stub.url, timeout_s=5),
                                 env={"SOCCERNET_PASSWORD": SECRET})
    assert time.monotonic() - start < 10
    # The files collect beside the dataset root, which the data stage fills in one step.
    assert keep == download_dir(spec.root) == tmp_path / "soccernet.download"
    assert not spec.root.exists()
    spec = replace(spec, root=keep)
    for game in TRAIN + VALID + TEST:
        assert [a.label for a in read_labels(spec.label_path(game))] == ["PASS", "DRIVE"]
    for game in TRAIN + VALID + TEST + CHALLENGE:
        assert spec.find_video(game, 1) == spec.game_dir(game) / "1_224p.mkv"
        assert spec.find_video(game, 2).read_bytes() == _video(f"video {game} 2")
    assert not spec.label_path(CHALLENGE[0]).exists()
    # No zips or cache folders left: the league folder and the record of what passed.
    assert sorted(p.name for p in keep.iterdir()) == [".checked.json", "spotting-ball-2023"]
    assert sorted(p.name for p in spec.task_dir.iterdir()) == ["england_efl"]
    # Every zip came from the ball share, with the password, through the webdav path, one
    # split after the other.
    served = [path for path, user, status in stub.requests if status == 200]
    assert served == [f"{WEBDAV}{s}.zip" for s in ("train", "valid", "test", "challenge")]
    assert {user for _, user, status in stub.requests if status == 200} == {BALL_SHARE}
    # Analytics never ran; the global state the package touches is restored.
    assert no_analytics_allowed == []
    assert urllib.request._opener is opener and socket.getdefaulttimeout() == timeout
    out = capsys.readouterr()
    _assert_secret_nowhere(SECRET, out.out + out.err + "".join(stub.raw_lines), tmp_path)


def test_wrong_password_is_reported_without_output_or_secret(
    serve, no_analytics_allowed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stub = serve(_ball_share())
    spec = _ball_spec(tmp_path / "soccernet")
    with pytest.raises(BallspotError) as info:
        download_ball_dataset(spec, DownloadConfig(server=stub.url, timeout_s=5),
                              env={"SOCCERNET_PASSWORD": WRONG})
    message = str(info.value)
    assert "$SOCCERNET_PASSWORD" in message and "refused the password" in message
    assert "\n" not in message and WRONG not in message
    assert stub.requests and all(status == 401 for _, _, status in stub.requests)
    assert list(tmp_path.iterdir()) == []  # nothing was kept: no download folder
    out = capsys.readouterr()
    assert "HTTP Error 401" in out.err  # the package's own report is relayed (masked)
    _assert_secret_nowhere(WRONG, out.out + out.err + message, tmp_path)


def test_wrong_password_keeps_an_existing_dataset(serve, tmp_path: Path) -> None:
    stub = serve(_ball_share())
    spec = _ball_spec(tmp_path / "soccernet")
    config = DownloadConfig(server=stub.url, timeout_s=5, verbose=False)
    download_ball_dataset(spec, config, env={"SOCCERNET_PASSWORD": SECRET}).rename(spec.root)
    before = _files_under(spec.root)
    with pytest.raises(BallspotError, match="refused the password"):
        download_ball_dataset(spec, config, env={"SOCCERNET_PASSWORD": WRONG})
    assert _files_under(spec.root) == before
    assert not download_dir(spec.root).exists()


@pytest.mark.parametrize("env", [{}, {"SOCCERNET_PASSWORD": ""}])
def test_missing_password_is_a_one_line_error_before_any_request(
    serve, tmp_path: Path, env: dict[str, str]
) -> None:
    stub = serve(_ball_share())
    spec = _ball_spec(tmp_path / "soccernet")
    with pytest.raises(BallspotError) as info:
        download_ball_dataset(spec, DownloadConfig(server=stub.url), env=env)
    assert "$SOCCERNET_PASSWORD is not set" in str(info.value)
    assert "\n" not in str(info.value)
    assert stub.requests == [] and not spec.root.exists()


def test_game_missing_from_the_zips_is_named(serve, tmp_path: Path) -> None:
    stub = serve(_ball_share(skip=TRAIN[1]))
    spec = _ball_spec(tmp_path / "soccernet")
    with pytest.raises(BallspotError) as info:
        download_ball_dataset(spec, DownloadConfig(server=stub.url, timeout_s=5, verbose=False),
                              env={"SOCCERNET_PASSWORD": SECRET})
    assert TRAIN[1] in str(info.value) and "missing after download" in str(info.value)
    assert str(info.value).startswith(str(spec.task_dir / TRAIN[1]))  # the final path
    assert not spec.root.exists()


def test_silent_server_times_out_instead_of_hanging(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    # Accepts connections (the kernel does, via the backlog) but never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}{WEBDAV}"
        spec = _ball_spec(tmp_path / "soccernet")
        errors: list[BaseException] = []

        def run() -> None:
            try:
                download_ball_dataset(spec, DownloadConfig(server=url, timeout_s=0.3,
                                                           verbose=False),
                                      env={"SOCCERNET_PASSWORD": SECRET})
            except BaseException as exc:  # handed to the test thread
                errors.append(exc)

        # In a thread, so that a hang fails the test instead of stalling the suite.
        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(timeout=5)
        assert not worker.is_alive(), "download still waiting after 5 s"
    assert len(errors) == 1 and isinstance(errors[0], BallspotError)
    assert "no answer from" in str(errors[0]) and "within 0.3 s" in str(errors[0])
    assert not spec.root.exists()


def _action_shares(video_password: str = SECRET) -> dict[str, Share]:
    labels, videos = {}, {}
    for game in TRAIN + VALID:
        labels[f"{game}/Labels-v2.json"] = _labels(game)
        for half in (1, 2):
            videos[f"video_224p/{game}/{half}_224p.mkv"] = _video(f"v2 {game} {half}")
    return {LABELS_SHARE: Share("SoccerNet", labels),
            VIDEO_224P_SHARE: Share(video_password, videos)}


def test_action_download_fetches_labels_and_halves_per_game(
    serve, no_analytics_allowed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stub = serve(_action_shares())
    spec = DatasetSpec(root=tmp_path / "soccernet", task="action-spotting-2023",
                       label_file="Labels-v2.json")
    download_action_dataset(spec, DownloadConfig(server=stub.url, timeout_s=5),
                            env={"SOCCERNET_PASSWORD": SECRET},
                            games={"train": TRAIN, "valid": VALID})
    spec = replace(spec, root=download_dir(spec.root))
    for game in TRAIN + VALID:
        assert spec.label_path(game).is_file()
        assert spec.find_video(game, 2).read_bytes() == _video(f"v2 {game} 2")
    assert sorted(p.name for p in spec.task_dir.iterdir()) == ["england_efl"]
    assert no_analytics_allowed == []
    out = capsys.readouterr()
    _assert_secret_nowhere(SECRET, out.out + out.err + "".join(stub.raw_lines), tmp_path)


def test_action_download_with_wrong_password_reports_the_password(serve, tmp_path: Path) -> None:
    # Labels come from a public share, so only the videos are refused.
    stub = serve(_action_shares())
    spec = DatasetSpec(root=tmp_path / "soccernet", task="action-spotting-2023")
    with pytest.raises(BallspotError) as info:
        download_action_dataset(spec, DownloadConfig(server=stub.url, timeout_s=5, verbose=False),
                                env={"SOCCERNET_PASSWORD": WRONG}, games={"train": TRAIN})
    assert "refused the password in $SOCCERNET_PASSWORD" in str(info.value)
    assert WRONG not in str(info.value)
    assert any(status == 200 for _, _, status in stub.requests)  # the labels did come
    assert list(tmp_path.iterdir()) == []  # a game without its videos is not kept


def test_huggingface_needs_a_token(tmp_path: Path) -> None:
    spec = _ball_spec(tmp_path / "soccernet")
    with pytest.raises(BallspotError, match=r"\$HF_TOKEN is not set"):
        download_ball_dataset(spec, DownloadConfig(source="HuggingFace"),
                              env={"SOCCERNET_PASSWORD": SECRET})
    assert not spec.root.exists()


def test_huggingface_failure_is_one_line_without_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import huggingface_hub.constants

    # Offline mode: the Hub client refuses every request at once, so nothing leaves the machine.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    token = "hf_FakeToken0123456789abcdef"
    spec = _ball_spec(tmp_path / "soccernet")
    start = time.monotonic()
    with pytest.raises(BallspotError) as info:
        download_ball_dataset(spec, DownloadConfig(source="HuggingFace", timeout_s=2),
                              env={"HF_TOKEN": token})
    assert time.monotonic() - start < 5
    assert "download failed: LocalEntryNotFoundError" in str(info.value)
    assert "\n" not in str(info.value)
    out = capsys.readouterr()
    _assert_secret_nowhere(token, out.out + out.err + str(info.value), tmp_path)
    assert not spec.root.exists() and not download_dir(spec.root).exists()


def test_masked_stream_hides_a_secret_split_across_writes() -> None:
    sink = io.StringIO()
    stream = _MaskedStream(sink, [SECRET])
    stream.write(f"user:{SECRET[:5]}")
    stream.write(f"{SECRET[5:]} 100%\r")
    stream.write(f"again {SECRET}")
    stream.close()
    assert SECRET not in sink.getvalue() and SECRET[5:] not in sink.getvalue()
    assert sink.getvalue() == "user:*** 100%\ragain ***\n"
    assert stream.lines == ["user:*** 100%", "again ***"]


def test_huggingface_path_passes_the_token_and_unpacks_the_package_game_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A stand-in for huggingface_hub.snapshot_download: the Hub itself is not reachable here.
    from SoccerNet.utils import getListGames

    token = "hf_FakeToken0123456789abcdef"
    calls = []

    def fake_snapshot(repo_id: str, local_dir: str, allow_patterns: list[str], **kwargs) -> str:
        calls.append((repo_id, kwargs.get("token"), sorted(allow_patterns)))
        (Path(local_dir) / ".cache" / "huggingface").mkdir(parents=True, exist_ok=True)
        for pattern in allow_patterns:
            split = pattern.removesuffix(".zip")
            games = tuple(getListGames(split, task="spotting-ball"))
            (Path(local_dir) / pattern).write_bytes(_split_zip(games, split != "challenge"))
        return local_dir

    monkeypatch.setattr(sn_downloader, "snapshot_download", fake_snapshot)
    spec = DatasetSpec(root=tmp_path / "soccernet", task="spotting-ball-2023")  # no games listed
    download_ball_dataset(spec, DownloadConfig(source="HuggingFace"), env={"HF_TOKEN": token})
    assert calls == [("SoccerNet/SN-BAS-2023", token, [f"{split}.zip"])
                     for split in ("train", "valid", "test", "challenge")]
    spec = replace(spec, root=download_dir(spec.root))
    games = getListGames("all", task="spotting-ball")
    assert len(games) == 9
    for game in games:
        assert spec.find_video(game, 1) is not None and spec.find_video(game, 2) is not None
    assert sorted(p.name for p in spec.task_dir.iterdir()) == ["england_efl"]
    assert sn_downloader.snapshot_download is fake_snapshot  # our token binding is undone
    out = capsys.readouterr()
    _assert_secret_nowhere(token, out.out + out.err, tmp_path)


def test_failure_removes_the_folders_it_created(serve, tmp_path: Path) -> None:
    stub = serve(_ball_share())
    spec = _ball_spec(tmp_path / "data" / "deep" / "soccernet")
    with pytest.raises(BallspotError, match="refused"):
        download_ball_dataset(spec, DownloadConfig(server=stub.url, timeout_s=5, verbose=False),
                              env={"SOCCERNET_PASSWORD": WRONG})
    assert list(tmp_path.iterdir()) == []


def _served(stub: OwnCloudStub) -> list[str]:
    return [path.removeprefix(WEBDAV) for path, _, status in stub.requests if status == 200]


def test_a_bad_video_stops_the_download_at_its_split_and_a_rerun_fetches_only_the_rest(
    serve, tmp_path: Path
) -> None:
    bad = f"{TEST[0]}/2_224p.mkv"
    stub = serve(_ball_share(bad_test_video=bad))
    spec = _ball_spec(tmp_path / "soccernet")
    config = DownloadConfig(server=stub.url, timeout_s=5, verbose=False)
    with pytest.raises(BallspotError) as info:
        download_ball_dataset(spec, config, env={"SOCCERNET_PASSWORD": SECRET})
    # named by the path it would have had in the dataset, not by the download folder
    assert info.value.path == str(spec.task_dir / bad)
    assert "re-run to fetch it again" in str(info.value) and "\n" not in str(info.value)
    assert "kept in" in str(info.value)
    assert _served(stub) == ["train.zip", "valid.zip", "test.zip"]  # challenge never asked for
    keep = replace(spec, root=download_dir(spec.root))
    assert keep.find_video(TRAIN[0], 1) is not None and keep.find_video(VALID[0], 2) is not None
    assert not keep.game_dir(TEST[0]).exists() or not _files_under(keep.game_dir(TEST[0]))
    assert not spec.root.exists()

    stub.shares.update(_ball_share())  # the share is mended; the next run resumes
    stub.requests.clear()
    download_ball_dataset(spec, config, env={"SOCCERNET_PASSWORD": SECRET})
    assert _served(stub) == ["test.zip", "challenge.zip"]
    assert keep.find_video(TEST[0], 2).read_bytes() == _video(f"video {TEST[0]} 2")


def test_a_zip_cut_short_by_a_killed_run_is_fetched_again(serve, tmp_path: Path) -> None:
    stub = serve(_ball_share())
    spec = _ball_spec(tmp_path / "soccernet")
    whole = stub.shares[BALL_SHARE].files["train.zip"]
    partial = download_dir(spec.root) / ".zips" / spec.task / "train.zip"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(whole[: len(whole) // 2])  # the package would skip an existing file
    download_ball_dataset(spec, DownloadConfig(server=stub.url, timeout_s=5, verbose=False),
                          env={"SOCCERNET_PASSWORD": SECRET})
    assert "train.zip" in _served(stub)
    keep = replace(spec, root=download_dir(spec.root))
    assert keep.find_video(TRAIN[1], 1).read_bytes() == _video(f"video {TRAIN[1]} 1")


def test_action_download_keeps_the_good_games_and_resumes(serve, tmp_path: Path) -> None:
    shares = _action_shares()
    missing = f"video_224p/{TRAIN[1]}/2_224p.mkv"
    video = shares[VIDEO_224P_SHARE].files.pop(missing)
    stub = serve(shares)
    spec = DatasetSpec(root=tmp_path / "soccernet", task="action-spotting-2023",
                       label_file="Labels-v2.json")
    config = DownloadConfig(server=stub.url, timeout_s=5, verbose=False)
    env = {"SOCCERNET_PASSWORD": SECRET}
    games = {"train": TRAIN, "valid": VALID}
    with pytest.raises(BallspotError) as info:
        download_action_dataset(spec, config, env=env, games=games)
    assert info.value.path == str(spec.task_dir / TRAIN[1] / "2_224p.mkv")
    assert "missing after download" in str(info.value) and "kept in" in str(info.value)
    assert not any(VALID[0] in path for path in _served(stub))  # stopped at the bad game
    keep = replace(spec, root=download_dir(spec.root))
    assert keep.find_video(TRAIN[0], 2) is not None

    shares[VIDEO_224P_SHARE].files[missing] = video
    # a file of an unfinished game, as a killed run leaves it: fetched again, not trusted
    keep.game_dir(TRAIN[1]).mkdir(parents=True, exist_ok=True)
    (keep.game_dir(TRAIN[1]) / "1_224p.mkv").write_bytes(b"cut sh")
    stub.requests.clear()
    download_action_dataset(spec, config, env=env, games=games)
    served = _served(stub)
    assert served and not any(TRAIN[0] in path for path in served)  # the good game stays
    assert any(TRAIN[1] in path and path.endswith("1_224p.mkv") for path in served)
    assert keep.find_video(TRAIN[1], 1).read_bytes() == _video(f"v2 {TRAIN[1]} 1")
    assert keep.find_video(VALID[0], 2).read_bytes() == _video(f"v2 {VALID[0]} 2")


def test_a_file_that_fails_a_later_check_is_removed_and_named_by_its_final_path(
    serve, tmp_path: Path
) -> None:
    stub = serve(_ball_share())
    spec = _ball_spec(tmp_path / "soccernet")
    keep = download_ball_dataset(spec, DownloadConfig(server=stub.url, timeout_s=5,
                                                      verbose=False),
                                 env={"SOCCERNET_PASSWORD": SECRET})
    bad = replace(spec, root=keep).find_video(VALID[0], 1)
    error = forget_bad_file(BallspotError(bad, "frame 3 of 8 does not decode"), keep, spec.root)
    assert error.path == str(spec.task_dir / VALID[0] / "1_224p.mkv")
    assert error.problem.startswith("frame 3 of 8 does not decode; removed it")
    assert not bad.exists()  # with the rest of valid.zip, fetched again by the next run
    stub.requests.clear()
    download_ball_dataset(spec, DownloadConfig(server=stub.url, timeout_s=5, verbose=False),
                          env={"SOCCERNET_PASSWORD": SECRET})
    assert _served(stub) == ["valid.zip"] and bad.is_file()
    other = BallspotError(tmp_path / "elsewhere.mkv", "no such file")
    assert forget_bad_file(other, keep, spec.root) is other


# --- safe_extract -----------------------------------------------------------------------------


def _raw_zip(path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for info, body in entries:
            archive.writestr(info, body)
    return path


@pytest.mark.parametrize("bad", ["../evil", "game/../../evil", "/tmp/evil_abs", "C:/evil",
                                 "game\\..\\..\\evil"])
def test_safe_extract_rejects_escaping_members_and_writes_nothing(tmp_path: Path, bad: str) -> None:
    zip_path = _raw_zip(tmp_path / "split.zip", [("game/1_224p.mkv", b"ok"), (bad, b"evil")])
    target = tmp_path / "out" / "task"
    with pytest.raises(BallspotError) as info:
        safe_extract(zip_path, target)
    assert str(zip_path) in str(info.value) and repr(bad) in str(info.value)
    assert not target.exists()
    assert [p.name for p in tmp_path.rglob("*")] == ["split.zip"]  # nothing, anywhere
    assert not Path("/tmp/evil_abs").exists()


def test_safe_extract_rejects_symlinks(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("game/link")
    link.external_attr = (0o120777 << 16)
    zip_path = _raw_zip(tmp_path / "split.zip", [(link, b"/etc/passwd")])
    with pytest.raises(BallspotError, match="symbolic link"):
        safe_extract(zip_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_safe_extract_corrupt_member_leaves_no_partial_output(tmp_path: Path) -> None:
    zip_path = _raw_zip(tmp_path / "split.zip", [("a/first.bin", b"x" * 1000),
                                                 ("a/second.bin", b"y" * 1000)])
    data = bytearray(zip_path.read_bytes())
    data[data.rindex(b"y" * 1000)] ^= 0xFF  # stored, so this flips a content byte: CRC fails
    zip_path.write_bytes(bytes(data))
    target = tmp_path / "out"
    with pytest.raises(BallspotError, match="second.bin"):
        safe_extract(zip_path, target)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["split.zip"]


def test_safe_extract_merges_into_an_existing_folder(tmp_path: Path) -> None:
    target = tmp_path / "out"
    (target / "keep").mkdir(parents=True)
    (target / "keep" / "old.txt").write_text("old")
    zip_path = _raw_zip(tmp_path / "split.zip", [("./", b""), ("g/dir/", b""), ("g/a.txt", b"a")])
    assert safe_extract(zip_path, target) == [target / "g" / "a.txt"]
    assert (target / "keep" / "old.txt").read_text() == "old"
    assert (target / "g" / "dir").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "split.zip"]


def test_safe_extract_names_a_file_that_is_not_a_zip(tmp_path: Path) -> None:
    bad = tmp_path / "train.zip"
    bad.write_bytes(b"<html>login page</html>")
    with pytest.raises(BallspotError, match="not a readable zip"):
        safe_extract(bad, tmp_path / "out")


# --- params -----------------------------------------------------------------------------------


def test_config_from_params_reads_lists_and_rejects_unknown_keys() -> None:
    config = DownloadConfig.from_params({"source": "EXRCSDrive", "server": None,
                                         "splits": ["train", "valid"], "timeout_s": 5})
    assert config.splits == ("train", "valid") and config.server is None
    assert config.timeout_s == 5.0
    with pytest.raises(BallspotError, match="unknown key"):
        DownloadConfig.from_params({"pasword_env": "X"})
    with pytest.raises(BallspotError, match="source"):
        DownloadConfig.from_params({"source": "ftp"})
    with pytest.raises(BallspotError, match="splits"):
        DownloadConfig.from_params({"splits": ["val"]})


def test_env_default_is_the_process_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SOCCERNET_PASSWORD", raising=False)
    with pytest.raises(BallspotError, match="SOCCERNET_PASSWORD"):
        download_ball_dataset(_ball_spec(tmp_path / "r"), DownloadConfig())
    assert os.environ.get("SOCCERNET_PASSWORD") is None
