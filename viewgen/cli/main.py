"""The ``viewgen`` command: thin subcommands over the library.

Every expected failure (bad input, missing weights, unwritable output: our own error types of
:mod:`viewgen.errors`, and ``ValueError`` / ``OSError``) ends with one line ``viewgen: error: ...``
on stderr and exit status 2; tracebacks are for real bugs only (a torch ``RuntimeError`` included).
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

from viewgen.cli import (
    convert,
    depth,
    download,
    export,
    export_mesh,
    export_world,
    fly,
    info,
    novel_views,
    prepare_clips,
    prepare_photos,
    serve,
    synth,
    synth_objects,
    train,
    warp,
)
from viewgen.cli import eval as eval_command
from viewgen.cli.signals import interrupt_exit_status, terminate_as_interrupt
from viewgen.errors import ViewgenError, one_line

# Every subcommand is a module with ``add_parser(subparsers)`` and ``run(args)``; this order is
# the order of `viewgen --help`.
COMMANDS = (fly, novel_views, info, warp, convert, export_mesh, export_world, serve, depth, download, synth,
            synth_objects, prepare_clips, prepare_photos, train, export, eval_command)


class _OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is the same one line as other failures, and exit status 2.

    ``viewgen: error: <message> (see `viewgen fly --help`)``.
    """

    def error(self, message: str):
        self.exit(2, f"viewgen: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineErrorParser(prog="viewgen", description="Turn a single photo into new views of it.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; exit status 0, 2 (one-line error), 130 (Ctrl-C) or 143 (SIGTERM).

    A Ctrl-C at any point, even while torch is still being imported to build the parser, ends
    with ``viewgen: interrupted`` rather than a traceback.
    """
    try:
        with terminate_as_interrupt():  # SIGTERM (kill, timeout, docker stop) stops like Ctrl-C
            return _parse_and_run(argv)
    except KeyboardInterrupt as interrupt:
        print("viewgen: interrupted", file=sys.stderr)
        return interrupt_exit_status(interrupt)
    except (ViewgenError, ValueError, OSError) as error:  # not RuntimeError: a real torch error keeps its traceback
        print(f"viewgen: error: {one_line(error)}", file=sys.stderr)
        return 2


def _parse_and_run(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:  # --help, or a usage error already printed as one line
        return exit_request.code if isinstance(exit_request.code, int) else 2
    return args.run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
