"""The ``viewgen`` command: thin subcommands over the library.

Every expected failure (bad input, missing weights, unwritable output) ends with one line
``viewgen: error: ...`` on stderr and exit status 2; tracebacks are for real bugs only.
"""

from __future__ import annotations

import os
import sys

from viewgen.runtime import bound_openmp_spinning  # noqa: E402  (imports no torch)

# Before torch loads its OpenMP runtime (see viewgen/runtime.py and benchmarks/contention.py).
# `viewgen serve` runs several flights in parallel threads of one process, whose OpenMP teams
# would wait on each other: it asks for sleeping threads. Every other command spins briefly
# (bounded, so a busy machine does not stall it) and `viewgen fly` also follows the free cores.
if sys.argv[1:2] == ["serve"]:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
else:
    bound_openmp_spinning()

import argparse  # noqa: E402

from viewgen.cli import commands, depth, export_mesh, fly, serve, synth
from viewgen.cli.signals import interrupt_exit_status, terminate_as_interrupt


class _OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is the same one line as other failures, and exit status 2.

    ``viewgen: error: <message> (see `viewgen fly --help`)``.
    """

    def error(self, message: str):
        self.exit(2, f"viewgen: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineErrorParser(prog="viewgen", description="Turn a single photo into new views of it.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fly.add_parser(sub)

    info = sub.add_parser("info", help="versions, devices and settings")
    info.set_defaults(run=commands.run_info)

    warp = sub.add_parser("warp", help="render an RGBD image from a moved camera (the mesh renderer)")
    warp.add_argument("input", nargs="?", help="RGBD .npz/.npy or original autocruise_input*.pkl "
                                               "(default: a built-in procedural landscape)")
    warp.add_argument("--out", default="warp.png",
                      help=".png or .jpg (the suffix picks the format): source | warped view | mask, side by side")
    warp.add_argument("--forward", type=float, default=0.5, help="move along the view direction, depth units")
    warp.add_argument("--right", type=float, default=0.0, help="move to the right, depth units")
    warp.add_argument("--up", type=float, default=0.0, help="move up, depth units")
    warp.add_argument("--yaw-deg", type=float, default=0.0, help="turn right by this many degrees")
    warp.set_defaults(run=commands.run_warp)

    convert = sub.add_parser("convert", help="convert a foreign checkpoint to viewgen's format")
    convert_sub = convert.add_subparsers(dest="format", required=True, metavar="FORMAT")
    infinite = convert_sub.add_parser("infinite-nature", help="the original TensorFlow Infinite Nature checkpoint")
    infinite.add_argument("prefix", help="checkpoint prefix, e.g. ckpt/model.ckpt-6935893")
    infinite.add_argument("out_dir", help="output folder (style_encoder/, spade_generator/, ...)")
    infinite.set_defaults(run=commands.run_convert_infinite_nature)

    export_mesh.add_parser(sub)
    serve.add_parser(sub)
    depth.add_parser(sub)
    synth.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:  # --help, or a usage error already printed as one line
        return exit_request.code if isinstance(exit_request.code, int) else 2
    try:
        with terminate_as_interrupt():  # SIGTERM (kill, timeout, docker stop) stops like Ctrl-C
            return args.run(args) or 0
    except KeyboardInterrupt as interrupt:
        print("viewgen: interrupted", file=sys.stderr)
        return interrupt_exit_status(interrupt)
    except (ValueError, OSError, RuntimeError) as error:
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"viewgen: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
