"""Running check_cmd and reload_cmd: bounded in time, and never leaving a process behind on timeout.

confd runs its commands with no timeout and waits for every holder of the output pipe, so one
`nginx -t` stuck on DNS or one reload that starts a daemon in the background hangs it for good.
Here a command runs in its own process group; on timeout the whole group is killed, and once the
shell itself has exited confpy stops waiting for background children that still hold the pipe.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping
from typing import NamedTuple

from confpy.errors import CommandError

__all__ = ["CommandResult", "run_command"]

log = logging.getLogger("confpy")

# After SIGTERM to the group, how long its processes get to exit before SIGKILL.
KILL_GRACE = 2.0
# After the shell exits, how long to keep reading output its background children may still write.
PIPE_GRACE = 0.25
# Output kept in memory per command; more is read (so the command never blocks) and dropped.
OUTPUT_CAP = 1 << 20
# Output quoted in an error message: this many characters from the start and from the end.
MESSAGE_OUTPUT = 2000
_POLL = 0.05


class CommandResult(NamedTuple):
    """A command that ran to completion with exit status 0 (failures raise CommandError)."""

    command: str
    returncode: int
    output: str
    duration: float


def run_command(
    command: str,
    *,
    timeout: float,
    what: str,
    step: str | None = None,
    env: Mapping[str, str] | None = None,
) -> CommandResult:
    """Run `command` with `/bin/sh -c`, stdout and stderr together, within `timeout` seconds.

    `what` names the command in errors ("check_cmd for nginx.toml"), `step` is the errors' field
    of that name ("check_cmd"). `env` adds variables to
    confpy's own environment. Raises CommandError on a non-zero exit, a signal, or a timeout
    (after killing the command's whole process group).
    """
    full_env = None if env is None else {**os.environ, **env}
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=full_env,
            start_new_session=True,
        )
    except OSError as exc:
        raise CommandError(f"{what} could not be started: {command}: {exc.strerror}", step=step) from exc
    assert proc.stdout is not None
    try:
        raw, finished = _collect(proc, proc.stdout.fileno(), start + timeout, what)
        if not finished:
            _kill_group(proc)
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        proc.stdout.close()
    duration = time.monotonic() - start
    output = raw.decode("utf-8", errors="replace")
    if not finished:
        raise CommandError(
            f"{what} timed out after {timeout:g} s and was killed: {command}{_quote(output)}", step=step
        )
    if proc.returncode != 0:
        raise CommandError(
            f"{what} failed ({_status(proc.returncode)}): {command}{_quote(output)}", step=step
        )
    return CommandResult(command=command, returncode=0, output=output, duration=duration)


def _collect(proc: subprocess.Popen[bytes], fd: int, deadline: float, what: str) -> tuple[bytes, bool]:
    """Read output until the shell has exited and the pipe is done; False if the deadline came first."""
    chunks: list[bytes] = []
    kept = 0
    eof = False
    exited_at: float | None = None
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while not eof:
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            limit = deadline if exited_at is None else min(deadline, exited_at + PIPE_GRACE)
            if now >= limit:
                break
            if selector.select(min(limit - now, _POLL)):
                data = os.read(fd, 65536)
                eof = not data
                if kept < OUTPUT_CAP:
                    chunks.append(data[: OUTPUT_CAP - kept])
                    kept += len(chunks[-1])
    if exited_at is None:
        remaining = deadline - time.monotonic()
        try:
            proc.wait(timeout=max(remaining, 0))
        except subprocess.TimeoutExpired:
            return b"".join(chunks), False
    elif not eof:
        log.warning(
            "%s: the command exited but a background process it started still holds its output "
            "open; not waiting for it (redirect its output, e.g. `... >/dev/null 2>&1 &`)",
            what,
        )
    return b"".join(chunks), True


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the command's process group, SIGKILL what is left after KILL_GRACE, reap the shell.

    Returns once the group is gone (SIGKILL is delivered asynchronously, so that is waited for too).
    """
    pgid = proc.pid
    _signal_group(pgid, signal.SIGTERM)
    if not _wait_group_gone(proc, KILL_GRACE):
        _signal_group(pgid, signal.SIGKILL)
        _wait_group_gone(proc, KILL_GRACE)
    proc.wait()


def _wait_group_gone(proc: subprocess.Popen[bytes], limit: float) -> bool:
    end = time.monotonic() + limit
    while True:
        proc.poll()
        if not _group_alive(proc.pid):
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.01)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    """True while a process of the group still runs; zombies nobody reaps (no init) do not count."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rpartition(b")")[2].split()
        except OSError:
            continue
        # After the command name: state, ppid, pgrp.
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


def _status(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


def _quote(output: str) -> str:
    """The output for an error message: a newline and the text, its middle cut if it is long."""
    text = output.strip()
    if not text:
        return ""
    if len(text) > 2 * MESSAGE_OUTPUT:
        omitted = len(text) - 2 * MESSAGE_OUTPUT
        text = f"{text[:MESSAGE_OUTPUT]}\n... ({omitted} characters omitted) ...\n{text[-MESSAGE_OUTPUT:]}"
    return "\n" + text
