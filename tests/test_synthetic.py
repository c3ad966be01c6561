"""The synthetic generator: SoccerNet layout, determinism, event density, events only as motion."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import av
import numpy as np
import pytest

from ballspot.core.errors import BallspotError
from ballspot.core.params import load_params
from ballspot.data import synthetic as syn
from ballspot.data.soccernet import DatasetSpec, load_game, read_labels

TINY = syn.SyntheticConfig(half_seconds=8.0, width=128, height=72)
GAME = "synthetic_league/2026-2027/2026-09-0{} - Team A - Team B"
G1, G2, G3 = GAME.format(1), GAME.format(2), GAME.format(3)


def _spec(root: Path, folds: tuple[tuple[str, ...], ...] = ((G1,), (G2,)),
          challenge: tuple[str, ...] = (G3,), halves: tuple[int, ...] = (1, 2),
          classes: tuple[str, ...] = ("PASS", "DRIVE")) -> DatasetSpec:
    return DatasetSpec(root=root, task="spotting-ball-synthetic", folds=folds, challenge=challenge,
                       halves=halves, classes=classes)


def _decode(path: Path) -> tuple[int, int, int, float]:
    """Frames actually decoded, width, height and average rate of a video."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        return count, stream.width, stream.height, float(stream.average_rate)


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Probability that a positive scores above a negative (ties count half)."""
    gt = (pos[:, None] > neg[None, :]).mean()
    eq = (pos[:, None] == neg[None, :]).mean()
    return float(gt + 0.5 * eq)


@pytest.fixture(scope="module")
def ball_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[DatasetSpec, Path, dict]:
    root = tmp_path_factory.mktemp("synthetic")
    spec = _spec(root / "data")
    summary = syn.generate_ball_dataset(spec, root / "hidden", TINY, progress=False)
    return spec, root / "hidden", summary


@pytest.fixture(scope="module")
def long_halves() -> list[syn.Track]:
    """Three simulated (not rendered) default halves of 60 s."""
    config = syn.SyntheticConfig()
    return [syn.simulate_half(config, GAME.format(k), half) for k in (1, 2) for half in (1, 2)][:3]


def test_ball_dataset_has_soccernet_layout_with_decodable_videos(ball_data):
    spec, _, summary = ball_data
    for game in (G1, G2, G3):
        for half in spec.halves:
            path = spec.game_dir(game) / f"{spec.video_stem(half)}.mkv"
            assert _decode(path) == (200, 128, 72, 25.0)
    for game in (G1, G2):
        labels = read_labels(spec.label_path(game), spec.classes, spec.halves)
        assert labels, game
        assert all(a.frame < 200 and a.team in ("left", "right") and a.visibility == "visible"
                   for a in labels)
    assert summary["frames"] == 3 * 2 * 200
    assert summary["events"]["PASS"] + summary["events"]["DRIVE"] > 0
    assert summary["bytes"] == sum(p.stat().st_size for p in spec.task_dir.rglob("*.mkv"))


def test_load_game_accepts_generated_games(ball_data):
    spec, _, _ = ball_data
    halves = load_game(spec, G1)
    assert [h.num_frames for h in halves] == [200, 200]
    assert (halves[0].width, halves[0].height, halves[0].fps) == (128, 72, 25.0)
    assert sum(len(h.annotations) for h in halves) > 0
    assert len(load_game(spec, G3, labelled=False)) == 2


def test_challenge_labels_are_written_outside_the_dataset(ball_data):
    spec, hidden, summary = ball_data
    assert not spec.label_path(G3).exists()
    assert not any(spec.root.rglob("*.json")) or all(
        p.parent != spec.game_dir(G3) for p in spec.root.rglob("*.json"))
    hidden_labels = read_labels(hidden / G3 / spec.label_file, spec.classes, spec.halves)
    assert len(hidden_labels) == sum(summary["challenge_events"].values()) > 0
    assert not (hidden / G1).exists()


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(ball_data, tmp_path):
    spec, _, _ = ball_data
    again = _spec(tmp_path / "same", folds=((G1,),), challenge=())
    # rendered by two worker processes this time: the files must not depend on it
    syn.generate_ball_dataset(again, tmp_path / "h1", TINY, progress=False, workers=2)
    for name in ("1_224p.mkv", "2_224p.mkv", spec.label_file):
        assert (again.game_dir(G1) / name).read_bytes() == (spec.game_dir(G1) / name).read_bytes()
    other = _spec(tmp_path / "other", folds=((G1,),), challenge=(), halves=(1,))
    syn.generate_ball_dataset(other, tmp_path / "h2", dataclasses.replace(TINY, seed=1),
                              progress=False)
    video = "1_224p.mkv"
    assert (other.game_dir(G1) / video).read_bytes() != (spec.game_dir(G1) / video).read_bytes()


def test_events_are_dense_with_some_under_one_second_apart(long_halves):
    gaps, labels = [], []
    for track in long_halves:
        frames = [e.frame for e in track.events]
        assert frames == sorted(frames) and len(set(frames)) == len(frames)
        assert frames[0] >= 0 and frames[-1] < track.num_frames
        gaps += list(np.diff(frames) / track.fps)
        labels += [e.label for e in track.events]
    gaps = np.array(gaps)
    assert 2.0 <= gaps.mean() <= 4.0
    assert (gaps < 1.0).sum() >= 2
    assert 0.5 <= labels.count("PASS") / len(labels) <= 0.75


def test_ball_speed_jumps_at_events_pass_fast_drive_slower(long_halves):
    config = syn.SyntheticConfig()
    receptions = 0
    for track in long_halves:
        v = np.diff(track.ball[:, :2], axis=0) * track.fps  # v[f]: from frame f to f + 1
        dv = np.linalg.norm(np.diff(v, axis=0), axis=1)  # dv[f - 1]: the change at frame f
        event_frames = {e.frame for e in track.events}
        for e in track.events:
            if e.frame < 1 or e.frame + 1 >= track.num_frames:
                continue
            after = np.linalg.norm(v[e.frame])
            assert dv[e.frame - 1] > (3.0 if e.label == "PASS" else 1.5), e
            if e.label == "PASS":
                assert after >= config.pass_speed_mps[0] * 0.9, e
            else:
                lo, hi = config.drive_speed_mps
                assert lo * 0.9 <= after <= hi * 1.1, e
        # receptions change the ball's velocity too: a velocity change alone is no label
        receptions += sum(1 for f in range(1, track.num_frames - 1)
                          if dv[f - 1] > 3.0 and all(abs(f - g) > 2 for g in event_frames))
    assert receptions >= 10


def test_frames_without_the_ball_do_not_reveal_events():
    config = syn.SyntheticConfig(half_seconds=30.0)
    stats, is_event, far = [], [], []
    for half in (1, 2):
        track = syn.simulate_half(config, G1, half)
        scene = syn.make_scene(config, G1, half)
        frames = [f.astype(np.float32) for f in
                  syn.render_frames(track, scene, config, 128, 72, draw_ball=False)]
        events = np.array([e.frame for e in track.events])
        for f in range(1, track.num_frames):
            hist = np.histogram(frames[f][..., 1], bins=8, range=(0, 256))[0]
            stats.append((frames[f].mean(), np.abs(frames[f] - frames[f - 1]).mean(),
                          hist.argmax() * 1000 + hist.max()))
            is_event.append(f in events)
            far.append(np.abs(events - f).min() > 8)
    stats, is_event, far = np.array(stats), np.array(is_event), np.array(far)
    assert is_event.sum() >= 12
    for k in range(stats.shape[1]):
        auc = _auc(stats[is_event, k], stats[far, k])
        assert 0.2 <= auc <= 0.8, (k, auc)


def test_ball_pixel_motion_does_reveal_events():
    # the positive control of the test above: the ball's image motion changes at events (and at
    # receptions, which are among the negatives here)
    config = syn.SyntheticConfig()
    pos, neg = [], []
    for half in (1, 2):
        track = syn.simulate_half(config, G1, half)
        scene = syn.make_scene(config, G1, half)
        uv = np.array([syn.ball_pixel(track, scene, f, 128, 72) for f in range(track.num_frames)])
        change = np.linalg.norm(np.diff(uv, 2, axis=0), axis=1)  # change[f - 1]: at frame f
        events = np.array([e.frame for e in track.events if 0 < e.frame < track.num_frames - 1])
        pos += list(change[events - 1])
        neg += [change[f - 1] for f in range(1, track.num_frames - 1)
                if np.abs(events - f).min() > 8]
    assert _auc(np.array(pos), np.array(neg)) > 0.75


def test_ball_looks_the_same_at_event_and_other_frames():
    config = syn.SyntheticConfig(half_seconds=20.0, noise_sigma=0.0, blur_sigma=0.0,
                                 occlusion=False)  # the ball drawn on top
    track = syn.simulate_half(config, G2, 1)
    scene = syn.make_scene(config, G2, 1)
    events = [e.frame for e in track.events]
    others = [f for f in range(0, track.num_frames, 7) if min(abs(f - e) for e in events) > 8]

    def ball_colours(frames: list[int]) -> list[tuple[int, ...]]:
        """Colour at the ball's centre pixel, where no player covers it."""
        colours = []
        for f in frames:
            with_ball = syn.render_frame(track, scene, config, f, 256, 144)
            without = syn.render_frame(track, scene, config, f, 256, 144, draw_ball=False)
            u, v = np.round(syn.ball_pixel(track, scene, f, 256, 144)).astype(int)
            if 0 <= u < 256 and 0 <= v < 144 and np.any(with_ball[v, u] != without[v, u]):
                colours.append(tuple(int(c) for c in with_ball[v, u]))
        return colours

    at_events, elsewhere = ball_colours(events), ball_colours(others)
    assert len(at_events) >= 3 and len(elsewhere) >= 3
    for colours in (at_events, elsewhere):
        assert colours.count((245, 245, 240)) >= 0.8 * len(colours), colours


def test_every_event_is_on_screen(long_halves):
    config = syn.SyntheticConfig()
    for k, track in enumerate(long_halves):
        scene = syn.make_scene(config, GAME.format(1 + k // 2), 1 + k % 2)
        for e in track.events:
            u, v = syn.ball_pixel(track, scene, e.frame, config.width, config.height)
            assert 0 <= u < config.width and 0 <= v < config.height, e


def test_close_up_default_keeps_the_ball_in_the_picture():
    """params.yaml's close-up view: the ball stays clear of the frame's edges at events."""
    block = load_params(Path(__file__).parents[1] / "params.yaml")["data"]["synthetic"]
    config = syn.SyntheticConfig.from_params(block)
    inside, total, margin = 0, 0, 12
    for k in (1, 2):
        for half in (1, 2):
            track = syn.simulate_half(config, GAME.format(k), half)
            scene = syn.make_scene(config, GAME.format(k), half)
            for e in track.events:
                u, v = syn.ball_pixel(track, scene, e.frame, config.width, config.height)
                inside += (margin <= u < config.width - margin
                           and margin <= v < config.height - margin)
                total += 1
    # the wide shot's pull towards mid-pitch once left 18 % of them off the picture or on its edge
    assert total >= 60 and inside >= 0.95 * total, (inside, total)


def test_render_video_events_fall_on_exact_frames_at_30_fps(tmp_path):
    path = tmp_path / "match.mp4"
    events = syn.render_video(path, 8.0, 30, 160, 90, seed=3, config=TINY)
    assert events and {label for _, label in events} <= {"PASS", "DRIVE"}
    for seconds, _ in events:
        assert abs(seconds * 30 - round(seconds * 30)) < 1e-9
        assert 0 <= seconds < 8.0
    assert _decode(path) == (240, 160, 90, 30.0)


def test_action_dataset_writes_v2_labels_with_kick_offs(tmp_path):
    spec = DatasetSpec(root=tmp_path, task="action-spotting-synthetic", label_file="Labels-v2.json",
                       classes=(*syn.ACTION_CLASSES, "Substitution"))
    config = syn.SyntheticConfig(half_seconds=6.0, width=96, height=64)
    summary = syn.generate_action_dataset(spec, [G1], config, progress=False)
    labels = read_labels(spec.label_path(G1), spec.classes, spec.halves)
    assert [a.half for a in labels if a.label == "Kick-off"] == [1, 2]
    assert all(a.team in ("home", "away") and a.visibility in ("visible", "not shown")
               for a in labels)
    assert sum(summary["events"].values()) == len(labels)
    for half in (1, 2):
        assert _decode(spec.game_dir(G1) / f"{half}_224p.mkv")[:3] == (150, 96, 64)


def test_action_simulation_shows_many_classes_and_hides_not_shown_ones():
    config = syn.SyntheticConfig()
    labels, shown_on_screen, not_shown = [], [], 0
    for k in range(4):
        track = syn.simulate_half(config, GAME.format(k), 1, action=True)
        scene = syn.make_scene(config, GAME.format(k), 1)
        for e in track.events:
            labels.append(e.label)
            u, v = syn.ball_pixel(track, scene, e.frame, config.width, config.height)
            on_screen = 0 <= u < config.width and 0 <= v < config.height
            if e.visibility == "not shown":
                not_shown += 1
                assert not on_screen, e
            else:
                shown_on_screen.append(on_screen)
    assert len(set(labels)) >= 5
    assert not_shown >= 1
    assert np.mean(shown_on_screen) >= 0.8


def test_ball_dataset_rejects_classes_it_cannot_render(tmp_path):
    spec = _spec(tmp_path, classes=("PASS", "GOAL"))
    with pytest.raises(BallspotError, match="GOAL"):
        syn.generate_ball_dataset(spec, tmp_path / "hidden", TINY, progress=False)


def test_config_from_params_converts_lists_and_rejects_unknown_keys():
    config = syn.SyntheticConfig.from_params({"seed": 3, "view_width_m": [20, 40], "width": 320})
    assert config.seed == 3 and config.view_width_m == (20.0, 40.0) and config.width == 320
    with pytest.raises(BallspotError, match="unknown synthetic params.*colour"):
        syn.SyntheticConfig.from_params({"colour": "red"})
    with pytest.raises(BallspotError, match="ext"):
        syn.SyntheticConfig.from_params({"ext": "avi"})


# A half of params.yaml's generator settings, shortened to 3 s: its file's SHA-256, recorded on
# one machine. Any machine must write these bytes, or the data stage's output differs from
# dvc.lock there and every downstream stage re-runs.
RECORDED_HALF_SHA256 = "8d0f4bac919e07a48f32e0ab3ded26e6614e2aeed3948d196049964c84ea8a36"


def _render_default_half(path: Path) -> str:
    import hashlib

    block = load_params(Path(__file__).parents[1] / "params.yaml")["data"]["synthetic"]
    config = dataclasses.replace(syn.SyntheticConfig.from_params(block), half_seconds=3.0)
    track = syn.simulate_half(config, G1, 1)
    scene = syn.make_scene(config, G1, 1)
    syn._write_video(path, track, scene, config, config.width, config.height)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_rendered_half_has_the_recorded_bytes(tmp_path):
    assert _render_default_half(tmp_path / "half.mkv") == RECORDED_HALF_SHA256


def test_encoded_bytes_do_not_depend_on_ffmpegs_cpu_specific_code(tmp_path):
    """FFmpeg picks SIMD code by the CPU: with all of it forced off, the same file comes out."""
    import subprocess
    import sys

    script = (
        "import ctypes, glob, os, sys\n"
        "import av\n"
        "lib = glob.glob(os.path.join(os.path.dirname(av.__file__) + '.libs', 'libavutil*'))\n"
        "ctypes.CDLL(lib[0]).av_force_cpu_flags(0) if lib else sys.exit('no libavutil')\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import test_synthetic\n"
        "from pathlib import Path\n"
        "print(test_synthetic._render_default_half(Path(sys.argv[2])))\n")
    out = subprocess.run([sys.executable, "-c", script, str(Path(__file__).parent),
                          str(tmp_path / "plain_c.mkv")], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[1])
    assert out.stdout.strip() == _render_default_half(tmp_path / "half.mkv")


def test_the_drawn_cue_marks_each_event_in_its_class_corner_and_nothing_else():
    """The learning-curve control: a square in the label's corner for ``cue_frames`` frames."""
    plain = syn.SyntheticConfig(half_seconds=20.0, noise_sigma=0.0, blur_sigma=0.0)
    cued = dataclasses.replace(plain, cue_frames=3)
    track = syn.simulate_half(plain, G2, 1)
    scene = syn.make_scene(plain, G2, 1)
    events = {e.frame: e.label for e in track.events}
    ev_frame, label = next((f, lab) for f, lab in events.items() if f + 3 < track.num_frames)
    side = 144 // 6
    corner = (slice(0, side), slice(0, side) if label == "PASS" else slice(256 - side, 256))
    for f in (ev_frame, ev_frame + 2):
        assert (syn.render_frame(track, scene, cued, f, 256, 144)[corner] == 255).all()
    quiet = next(f for f in range(track.num_frames)
                 if all(not 0 <= f - e < 3 for e in events))
    assert np.array_equal(syn.render_frame(track, scene, cued, quiet, 256, 144),
                          syn.render_frame(track, scene, plain, quiet, 256, 144))
    with pytest.raises(BallspotError, match="cue_frames"):
        syn.SyntheticConfig(cue_frames=-1)
