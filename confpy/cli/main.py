"""The entry point of the `confpy` script and `python -m confpy`.

A run, confd's command line (`confpy -onetime -node ...`), is parsed by Go's rules
(confpy.cli.goflags) from the main command's flags, without typer or click: importing them costs
~30 ms, a third of a `-onetime` over `-etcd-transport http`. So are the sidecar commands,
`register`, `wait` and `exec` (confpy.cli.sidecar). The typer app (confpy.cli.app) is imported only
for what only it does: `convert` and `check`, `-h`/`-help`/`--help`, shell completion, and the
command lines Go's rules refuse, which it reports in click's usage format.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

from confpy.cli import command
from confpy.cli.goflags import parse
from confpy.cli.sidecar import COMMANDS

__all__ = ["main"]

_PROG = "confpy"
# click's shell completion runs the command with this set (`_CONFPY_COMPLETE=complete_bash`).
_COMPLETE_VAR = f"_{_PROG.upper()}_COMPLETE"


def main() -> NoReturn:
    """Run `confpy` with sys.argv."""
    # gRPC's C core prints its own lines for TLS and connection failures; confpy reports them itself.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    args = sys.argv[1:]
    parsed = None if _COMPLETE_VAR in os.environ else parse(args, command.MAIN_FLAGS)
    if parsed is not None and not parsed[0] and parsed[1] and parsed[1][0] in COMMANDS:
        _exit(_sidecar(parsed[1][0], parsed[1][1:]))
    if parsed is None or parsed[1]:  # refused, or arguments after the flags (a subcommand)
        _exit(_through_typer(args))
    try:
        status = command.run(parsed[0])
    except BrokenPipeError:  # a reader gone (`confpy -version | true`): exit 1, as click says it
        status = 1
    _exit(status)


def _sidecar(name: str, args: list[str]) -> str | int | None:
    """`confpy register|wait|exec ARGS`, a sidecar's start, by Go's rules; typer's answer where
    they refuse them (`-h` is refused: it is no flag of theirs) and for a wrong number of
    arguments, in click's usage format."""
    sidecar = COMMANDS[name]
    parsed = parse(args, sidecar.flags, sidecar.interspersed)
    if parsed is not None:
        flags, rest = parsed
        least, most = sidecar.arguments
        if least <= len(rest) <= (most or len(rest)):
            return sidecar.run(flags, rest)
    return _through_typer([name, *args])


def _through_typer(args: list[str]) -> str | int | None:
    """The typer app's answer to the command line: its exit code."""
    from confpy.cli.app import app

    try:
        app(args=args, prog_name=_PROG)
    except SystemExit as exc:
        return exc.code
    return 0


def _exit(code: str | int | None) -> NoReturn:
    """End the process as `sys.exit(code)` would, without the interpreter's teardown.

    Freeing every module and shutting gRPC's core down takes ~19 ms, a sixth of a `-onetime` run,
    and does nothing for a process that is ending: the files are fsynced, the exit handlers (which
    flush the log) are run here, and so are the standard streams. While a non-daemon thread still
    runs, the interpreter would wait for it, so the normal exit is kept.
    """
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said
            status = status or 1
    os._exit(status)
