"""The ``ballspot`` command line: the same library functions the DVC stages call."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ballspot.core.errors import run_entry


def _bench_decode(args: argparse.Namespace) -> None:
    from ballspot.bench.decode import bench_decode

    bench_decode(args.video, clips=args.clips, clip_frames=args.clip_frames, step=args.step,
                 backend=args.backend, seed=args.seed)


def _bench_predict(args: argparse.Namespace) -> None:
    from ballspot.bench.predict import bench_predict

    bench_predict(width=args.width, height=args.height, num_frames=args.frames,
                  frame_stack_size=args.frame_stack_size, tta=args.tta,
                  batch_frames=args.batch_frames, device=args.device, threads=args.threads,
                  backend=args.backend)


def _bench_live(args: argparse.Namespace) -> None:
    from ballspot.app.live import LIVE_BATCH_FRAMES
    from ballspot.bench.live import bench_live

    bench_live(args.video, args.model, seconds=args.seconds,
               batch_frames=LIVE_BATCH_FRAMES if args.batch_frames is None
               else args.batch_frames)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="ballspot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    bench = commands.add_parser("bench", help="speed benchmarks (ratios measured in one run)")
    benches = bench.add_subparsers(dest="bench", required=True)
    decode = benches.add_parser("decode", help="loader clips/s next to raw sequential decode")
    decode.add_argument("video", nargs="?", default=None,
                        help="video (default: a generated 720p H.264 file, 250-frame GOP)")
    decode.add_argument("--clips", type=int, default=100, help="random clips to fetch")
    decode.add_argument("--clip-frames", type=int, default=15, help="sampled frames per clip")
    decode.add_argument("--step", type=int, default=2, help="source-frame step inside a clip")
    decode.add_argument("--backend", default="auto", help="auto, pyav, opencv or nvdec")
    decode.add_argument("--seed", type=int, default=0, help="seed of the random clip positions")
    decode.set_defaults(func=_bench_decode)
    predict = benches.add_parser(
        "predict", help="cached vs naive predictor frames/s and the theoretical speed-up")
    predict.add_argument("--width", type=int, default=160)
    predict.add_argument("--height", type=int, default=96)
    predict.add_argument("--frames", type=int, default=120, help="video length in frames")
    predict.add_argument("--frame-stack-size", type=int, default=15)
    predict.add_argument("--batch-frames", type=int, default=16)
    predict.add_argument("--tta", action="store_true", help="horizontal-flip TTA")
    predict.add_argument("--device", default="cpu")
    predict.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    predict.add_argument("--backend", default="torch", choices=("torch", "onnxruntime"),
                         help="onnxruntime: also time the ONNX export, side by side")
    predict.set_defaults(func=_bench_predict)
    live = benches.add_parser("live", help="live-spotting latency at a real-time input")
    live.add_argument("video", nargs="?", default=None,
                      help="video sent in real time (default: the first challenge half)")
    live.add_argument("--model", action="append", default=None,
                      help="model folder(s) (default: as spot --live)")
    live.add_argument("--seconds", type=float, default=60.0, help="seconds of video to send")
    live.add_argument("--batch-frames", type=int, default=None,
                      help="clips predicted together (default: as spot --live)")
    live.set_defaults(func=_bench_live)
    from ballspot.bench.train import register as register_bench_train

    register_bench_train(benches)

    from ballspot.app.diagnosis import register as register_diagnose
    from ballspot.app.generalisation import register as register_generalise
    from ballspot.eval.metric import register as register_evaluate

    register_evaluate(commands)
    register_diagnose(commands)
    register_generalise(commands)
    from ballspot.app.profiles import register as register_profile

    register_profile(commands)
    from ballspot.app.spot import register as register_spot
    from ballspot.app.visualize import register as register_visualize

    register_spot(commands)
    register_visualize(commands)
    from ballspot.deploy.command import register as register_export

    register_export(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; a :class:`BallspotError` becomes one line on stderr and exit code 1."""
    args = build_parser().parse_args(argv)
    return run_entry(lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
