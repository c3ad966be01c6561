"""Spotting any video: a real tiny model trained on unmistakable events, then spotted in videos of
other sizes, frame rates and codecs; events must land at their true times in the input's clock."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
import yaml
from imports import REPO
from videos import CLASSES, event_frames

from ballspot.app.spot import spot_video
from ballspot.app.visualize import visualize_game
from ballspot.cli import main
from ballspot.core.errors import BallspotError
from ballspot.data.encoder import VideoWriter
from ballspot.data.resample import SourceVideo, scan_video
from ballspot.data.soccernet import Annotation, write_labels
from ballspot.model.folder import load_model_dir
from ballspot.predict.postprocess import load_raw_predictions, save_raw_predictions

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # 2 cores: one intra-op thread

TOLERANCE_MS = 40.0  # one frame at 25 fps
GAME = "league/2026-2027/2026-01-01 - A - B"


# ------------------------------------------------------------------- videos with obvious events

def _write_pyav(path: Path, frames: Iterator[np.ndarray], rate: Fraction, width: int,
                height: int, codec: str) -> None:
    """Encode with PyAV directly: any codec/container, odd sizes, fractional rates."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for frame in frames:
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _decodedevent_frames(path: Path) -> tuple[int, int, int, str]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        return count, stream.codec_context.width, stream.codec_context.height, stream.codec.name


# ----------------------------------------------------------------------------------- fixtures

def _assert_events(found: Sequence[tuple[int, str, float]],
                   truth: Sequence[tuple[float, str]]) -> None:
    """Exactly one spotted event per true event, right class, within one 25 fps frame."""
    assert len(found) == len(truth), (found, truth)
    for (ms, label, _), (seconds, true_label) in zip(found, truth, strict=True):
        assert label == true_label
        assert abs(ms - seconds * 1000) <= TOLERANCE_MS, (ms, seconds)


def _check_results_json(path: Path, name: str, classes: Sequence[str]) -> list[dict]:
    """The SoccerNet results_spotting.json schema: every value a string, gameTime 'H - MM:SS'."""
    data = json.loads(path.read_text())
    assert data["UrlLocal"] == name
    items = data["predictions"]
    for item in items:
        assert set(item) == {"gameTime", "label", "position", "half", "confidence"}
        assert all(isinstance(v, str) for v in item.values())
        assert re.fullmatch(r"1 - \d\d:\d\d", item["gameTime"])
        assert item["half"] == "1" and item["label"] in classes
        seconds = int(item["position"]) // 1000
        assert item["gameTime"] == f"1 - {seconds // 60:02d}:{seconds % 60:02d}"
        assert 0 <= float(item["confidence"]) <= 1
    return items


# -------------------------------------------------------------------------------------- tests

def test_events_land_at_their_times_in_a_30fps_720p_mp4(model_dir: Path, workdir: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    truth = [(33 / 30, "PASS"), (80 / 30, "DRIVE"), (125 / 30, "DRIVE"), (170 / 30, "PASS")]
    video = workdir / "match.mp4"
    with VideoWriter(video, 1280, 720, fps=30, gop=60, preset="ultrafast") as writer:
        for frame in event_frames(7.0, 30, 1280, 720, truth, seed=0):
            writer.write(frame)
    out = workdir / "out"
    out.mkdir()
    (out / "overlay.mp4").write_bytes(b"an earlier run's")
    (out / "notes.txt").write_text("the user's")
    code = main(["spot", str(video), "--model", str(model_dir), "--out", "out", "--device",
                 "cpu", "--decode", "cpu", "--no-overlay"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "4 events (PASS 2, DRIVE 2)" in err
    assert (out / "notes.txt").read_text() == "the user's"
    items = _check_results_json(out / "results_spotting.json", "match.mp4", CLASSES)
    _assert_events([(int(i["position"]), i["label"], float(i["confidence"])) for i in items],
                   truth)
    indexes, raw = load_raw_predictions(out / "raw_predictions.npz")
    assert indexes[0] == 5 and indexes[-1] == 7 * 25 - 4 - 2  # prediction_range of 175 frames
    rows = (out / "scores.csv").read_text().splitlines()
    assert rows[0] == "time_ms,frame,PASS,DRIVE"
    assert len(rows) == len(indexes) + 1
    first = rows[1].split(",")
    assert [int(first[0]), int(first[1])] == [200, 5]
    np.testing.assert_allclose([float(v) for v in first[2:]], raw[0], atol=1e-5)
    assert cv2.imread(str(out / "timeline.png")) is not None
    assert not (out / "overlay.mp4").exists()


def test_odd_size_2997fps_avi_ensemble_with_overlay(model_dir: Path, workdir: Path) -> None:
    rate = Fraction(30000, 1001)
    truth_frames = [(40, "DRIVE"), (95, "PASS"), (150, "PASS")]
    truth = [(k / float(rate), label) for k, label in truth_frames]
    video = workdir / "clip.avi"
    _write_pyav(video, event_frames(190 / float(rate), float(rate), 333, 187, truth, seed=0), rate,
                333, 187, "mpeg4")
    # a folder of fold_* models: both folds are the same model, so the mean equals it
    folds = workdir / "models"
    for k in range(2):
        shutil.copytree(model_dir, folds / f"fold_{k}")
    result = spot_video(video, [folds], device="cpu", decode="cpu", progress=False)
    assert result.out_dir == Path("spot/clip")
    assert result.models == [folds / "fold_0", folds / "fold_1"]
    _assert_events(result.events_ms(), truth)
    out = workdir / "spot/clip"
    _check_results_json(out / "results_spotting.json", "clip.avi", CLASSES)
    count, width, height, codec = _decodedevent_frames(out / "overlay.mp4")
    assert (count, width, height, codec) == (190, 334, 188, "h264")  # odd size padded by one
    with av.open(str(out / "overlay.mp4")) as container:
        assert container.streams.video[0].average_rate == rate
    image = cv2.imread(str(out / "timeline.png"))
    assert image is not None and image.shape[1] >= 1000


def test_overlay_marks_the_event_when_it_happens(model_dir: Path, workdir: Path) -> None:
    truth = [(1.2, "PASS")]
    video = workdir / "short.mkv"
    with VideoWriter(video, 160, 96, fps=25, gop=25) as writer:
        for frame in event_frames(2.4, 25, 160, 96, truth, seed=0):
            writer.write(frame)
    spot_video(video, [model_dir], out="o", device="cpu", decode="auto", progress=False)
    with av.open(str(workdir / "o/overlay.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 60

    def banner(frame: np.ndarray) -> bool:
        """PASS's label (blue text on black) in the top-left corner."""
        corner = frame[:30, :80].astype(int)
        return int(((corner[..., 2] - corner[..., 0] > 50) & (corner[..., 2] > 100)).sum()) > 5

    event = round(1.2 * 25)
    shown = [i for i in range(60) if banner(frames[i])]
    # from the spotted frame (within one of the truth) for one second
    assert event - 1 <= shown[0] <= event + 1
    assert 23 <= len(shown) <= 26 and shown == list(range(shown[0], shown[-1] + 1))


def test_resampling_takes_the_nearest_source_frame() -> None:
    def targets(times: list[float]) -> list[int]:
        source = SourceVideo(Path("v"), 8, 8, "h264", np.asarray(times), 30.0)
        return source.target_sources().tolist()

    assert targets([i / 25 for i in range(10)]) == list(range(10))
    # 30 fps: target i at i/25 s; 4/25 = 0.16 s is nearest to 5/30 = 0.1667 s
    assert targets([i / 30 for i in range(12)]) == [0, 1, 2, 4, 5, 6, 7, 8, 10, 11]
    # variable rate: a gap after 0.1 s
    assert targets([0.0, 0.05, 0.1, 0.31, 0.35]) == [0, 1, 2, 2, 2, 2, 3, 3, 3, 4]
    # 50 fps keeps every second frame
    assert targets([i / 50 for i in range(8)]) == [0, 2, 4, 6]


def test_audio_only_file_is_a_one_line_error(workdir: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    path = workdir / "sound.mka"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16",
                                           layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    assert main(["spot", str(path), "--model", "nowhere"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"ballspot: error: {path}: no video stream (the file holds audio)"
    garbage = workdir / "garbage.mp4"
    garbage.write_bytes(b"not a video at all" * 100)
    with pytest.raises(BallspotError, match="not a readable video"):
        scan_video(garbage)


def test_missing_model_and_unwritable_output_are_one_line_errors(
        model_dir: Path, workdir: Path, capsys: pytest.CaptureFixture) -> None:
    video = workdir / "v.mkv"
    with VideoWriter(video, 96, 64, fps=25) as writer:
        for frame in event_frames(1.0, 25, 96, 64, [], seed=0):
            writer.write(frame)
    assert main(["spot", str(video), "--model", "models/missing"]) == 1
    assert capsys.readouterr().err.strip() == \
        "ballspot: error: models/missing: no such model folder"
    (workdir / "empty").mkdir()
    with pytest.raises(BallspotError, match="empty: not a model"):
        spot_video(video, ["empty"], progress=False)
    # no default model in this cwd
    with pytest.raises(BallspotError, match="no model found"):
        spot_video(video, None, progress=False)
    (workdir / "file").write_text("x")
    assert main(["spot", str(video), "--model", str(model_dir), "--out", "file/out",
                 "--device", "cpu"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ballspot: error: file/out: cannot write the output folder")
    assert "\n" not in err


def test_live_spotting_has_its_own_default_models_and_peak_distance(
        model_dir: Path, workdir: Path, capsys: pytest.CaptureFixture) -> None:
    """``spot --live`` and ``spot --low-latency`` take ``spot.live_models`` (S1's folds look 14
    frames ahead, S3's 28, S4's 64) and ``spot.live_postprocess`` over ``postprocess``; offline
    keeps both; the dataclass defaults are the shipped ones, so a folder without params.yaml
    behaves alike."""
    from ballspot.app.ensemble import spot_setup
    from ballspot.core.params import load_params
    from ballspot.predict.defaults import SpotDefaults

    shipped = load_params(REPO / "params.yaml")["spot"]
    defaults = SpotDefaults()
    assert [list(defaults.models), list(defaults.live_models), dict(defaults.live_postprocess)] \
        == [shipped["models"], shipped["live_models"], shipped["live_postprocess"]]
    for name in ("basic", "tuning", "finetune"):
        shutil.copytree(model_dir, workdir / "models" / name / "fold_0")
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    live_dirs, live_post = spot_setup(params, "params.yaml", None, live=True)
    file_dirs, file_post = spot_setup(params, "params.yaml", None, live=False)
    assert live_dirs == [Path("models/basic/fold_0")]
    assert file_dirs == [Path("models/finetune/fold_0")]
    assert (file_post.gauss_sigma, file_post.height, file_post.distance) == (2.0, 0.4, 15)
    assert (live_post.gauss_sigma, live_post.height, live_post.distance) == (2.0, 0.4, 4)
    # a named model keeps the live post-processing: the latency is in both
    assert spot_setup(params, "params.yaml", ["models/finetune"], live=True)[1] == live_post
    # a key that post-processing does not know, or a bad value: one line naming the file
    params["spot"] = {"live_postprocess": {"distanse": 4}}
    with pytest.raises(BallspotError, match=r"^params.yaml: bad spot.live_postprocess .*distanse"):
        spot_setup(params, "params.yaml", None, live=True)
    params["spot"] = {"live_postprocess": {"distance": 0}}
    with pytest.raises(BallspotError, match=r"^params.yaml: bad spot.live_postprocess"):
        spot_setup(params, "params.yaml", None, live=False)
    params["spot"] = {"live_models": ["models/none"]}
    with pytest.raises(BallspotError, match="models/none: no model found"):
        spot_setup(params, "params.yaml", None, live=True)
    # the file path with --low-latency spots with the live models (one event line names them)
    video = workdir / "v.mkv"
    with VideoWriter(video, 96, 64, fps=25) as writer:
        for frame in event_frames(4.0, 25, 96, 64, [(1.5, "PASS")], seed=0):
            writer.write(frame)
    assert main(["spot", str(video), "--low-latency", "--no-overlay", "--device", "cpu",
                 "--out", "low"]) == 0
    assert "with 1 model(s) -> low" in capsys.readouterr().err
    assert spot_video(video, None, "low", device="cpu", overlay=False, progress=False,
                      low_latency=True).models == [Path("models/basic/fold_0")]


def test_spot_takes_the_predictor_settings_from_the_predict_block(
        model_dir: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``predict`` block sets tta, batch_frames and centre_step as the DVC stages read it;
    without params.yaml the predictor runs with the block's own defaults (no flip, every centre)."""
    import ballspot.app.ensemble as ensemble
    from ballspot.pipeline.prediction import PredictConfig

    seen: list[tuple[bool, int, int]] = []
    load = ensemble.load_members

    def recording(*args: object, **kwargs: object) -> object:
        seen.append((kwargs["tta"], kwargs["batch_frames"], kwargs["centre_step"]))
        return load(*args, **kwargs)

    monkeypatch.setattr(ensemble, "load_members", recording)
    video = workdir / "v.mkv"
    with VideoWriter(video, 96, 64, fps=25) as writer:
        for frame in event_frames(2.0, 25, 96, 64, [(1.0, "PASS")], seed=0):
            writer.write(frame)
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["predict"] = {"tta": True, "batch_frames": 8, "centre_step": 3}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    spot_video(video, [model_dir], "a", device="cpu", overlay=False, progress=False)
    (workdir / "params.yaml").unlink()
    spot_video(video, [model_dir], "b", device="cpu", overlay=False, progress=False)
    default = PredictConfig()
    assert seen == [(True, 8, 3), (default.tta, default.batch_frames, default.centre_step)]
    assert seen[1] == (False, 32, 1)


def test_a_live_batch_of_zero_clips_is_a_one_line_error_not_the_default(
        workdir: Path, capsys: pytest.CaptureFixture) -> None:
    """``--batch-frames 0`` is refused; only an absent flag means the measured default."""
    assert main(["spot", "match.mkv", "--live", "--batch-frames", "0"]) == 1
    err = capsys.readouterr().err
    assert "--batch-frames must be >= 1, got 0" in err and err.count("\n") == 1


def test_visualize_draws_predictions_and_ground_truth_of_a_dataset_game(workdir: Path) -> None:
    spec_block = {"root": "data/soccernet", "task": "ball", "classes": CLASSES, "halves": [1],
                  "resolution": "224p", "folds": {"0": [GAME]}}
    (workdir / "params.yaml").write_text(yaml.safe_dump(
        {"dataset": spec_block, "postprocess": {"height": 0.5}}))
    game_dir = workdir / "data/soccernet/ball" / GAME
    game_dir.mkdir(parents=True)
    with VideoWriter(game_dir / "1_224p.mkv", 96, 64, fps=25) as writer:
        for frame in event_frames(4.0, 25, 96, 64, [(2.0, "PASS")], seed=0):
            writer.write(frame)
    write_labels(game_dir / "Labels-ball.json", GAME, [Annotation(1, 50, "PASS")])
    indexes = np.arange(5, 95)
    raw = np.zeros((90, 2), np.float32)
    raw[:, 0] = np.exp(-0.5 * ((indexes - 52) / 3.0) ** 2)  # a PASS peak at frame 52
    save_raw_predictions(workdir / "data/predictions/basic/cv/fold_0" / GAME
                         / "1_raw_predictions.npz", indexes, raw)
    out = visualize_game(GAME, progress=False)
    assert out == Path("visualize") / GAME / "half_1"
    assert cv2.imread(str(out / "timeline.png")) is not None
    count, width, height, _ = _decodedevent_frames(out / "overlay.mp4")
    assert (count, width, height) == (100, 96, 64)
    assert main(["visualize", "--game", "league/none", "--no-overlay"]) == 1


def test_model_dir_knows_its_training_video_size(model_dir: Path) -> None:
    _, resolved = load_model_dir(model_dir)
    assert resolved["frames"]["video_size"] == [96, 64]
    assert torch.get_num_threads() == 1


def test_a_model_folder_that_contradicts_itself_is_a_one_line_error(
        model_dir: Path, tmp_path: Path) -> None:
    from ballspot.model.folder import load_model_dir

    bad = tmp_path / "bad"
    shutil.copytree(model_dir, bad)
    config = yaml.safe_load((bad / "model.yaml").read_text())
    (bad / "model.yaml").write_text(yaml.safe_dump({**config, "classes": ["A", "B", "C"]}))
    with pytest.raises(BallspotError) as info:
        load_model_dir(bad)
    assert str(info.value).startswith(str(bad / "model.yaml")) and "2 outputs" in str(info.value)
    wider = {**config, "model": {**config["model"], "num_3d_features": 32}}
    (bad / "model.yaml").write_text(yaml.safe_dump(wider))
    with pytest.raises(BallspotError) as info:
        load_model_dir(bad)
    message = str(info.value)
    assert message.startswith(str(bad / "model.safetensors")) and "do not fit" in message
    assert "\n" not in message
    (bad / "model.yaml").write_text("model: [")
    with pytest.raises(BallspotError, match="not a readable model.yaml"):
        load_model_dir(bad)


def test_a_truncated_file_is_spotted_as_far_as_it_goes_with_a_notice(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    whole = tmp_path / "whole.mkv"
    with VideoWriter(whole, 96, 64, fps=25, gop=25) as writer:
        for frame in event_frames(8.0, 25, 96, 64, [], seed=1):
            writer.write(frame)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    source = scan_video(cut)
    err = capsys.readouterr().err.strip()
    assert 1.0 < source.times[-1] < 7.0
    assert len(err.splitlines()) == 1 and str(cut) in err and " s" in err, err
    assert "spotting" in err
