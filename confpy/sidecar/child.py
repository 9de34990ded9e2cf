"""`confpy exec`'s command: started, signalled, reaped, its exit status read as a shell reads it.

`exec.py` decides when (register, wait, render, then supervise); this module owns the process.
Signals reach the command only while it runs: it is signalled and reaped under one lock, so a
signal never goes to a PID that was reaped and perhaps reused. Run as PID 1, confpy also reaps
the orphans that the command's own children leave behind (`ReapGate`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess

__all__ = [
    "FORWARDED_SIGNALS",
    "KILL_AFTER",
    "STOP_SIGNALS",
    "Child",
    "ReapGate",
    "exit_status",
    "signal_name",
]

log = logging.getLogger("confpy")

#: Signals passed on to the command; SIGHUP also re-renders every resource.
FORWARDED_SIGNALS = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
#: After these, the command is going away: no more reloads, and the keys are deregistered.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
#: Seconds a command stopped for a restart may take to end before it gets SIGKILL
#: (consul-template's exec `kill_timeout` default).
KILL_AFTER = 30.0


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def exit_status(wait_status: int) -> int:
    """A shell's view of a wait status: the exit code, or 128+N when killed by signal N."""
    code = os.waitstatus_to_exitcode(wait_status)
    return code if code >= 0 else 128 - code


class Child:
    """The command. It is signalled and reaped only under one lock, so a signal can never reach
    a PID that was reaped (and perhaps reused); `status` is its exit status once it has ended."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self.proc: subprocess.Popen[bytes] | None = None
        self.status: int | None = None
        self._lock = threading.Lock()
        # When the command was told to stop for a restart (None: no restart under way), and
        # whether it has had SIGKILL for being slow about it.
        self._restart_since: float | None = None
        self._killed = False

    @property
    def name(self) -> str:
        """How messages name it: the program, and its PID once started."""
        program = os.path.basename(self.argv[0])
        return f"{program} (pid {self.proc.pid})" if self.proc else program

    @property
    def running(self) -> bool:
        with self._lock:
            return self.proc is not None and self.status is None

    def start(self) -> None:
        """Start the command, with confpy's stdin, stdout and stderr; OSError if it cannot be."""
        with self._lock:
            self._spawn()

    def _spawn(self) -> None:
        import subprocess  # ~2 ms with locale: after the first render, which needs neither

        self.proc = subprocess.Popen(self.argv)
        log.info("started %s (pid %d)", shlex.join(self.argv), self.proc.pid)

    def restart(self, signum: signal.Signals) -> bool:
        """Stop the command with `signum`, to start it again once it has ended; False if it does
        not run. A restart already under way takes this one in: its new command starts after
        every file written so far, since it starts only once the old one has ended."""
        with self._lock:
            if self.proc is None or self.status is not None:
                return False
            if self._restart_since is None:
                self._restart_since, self._killed = time.monotonic(), False
                os.kill(self.proc.pid, signum)
                log.info("sent %s to %s to restart it", signum.name, self.name)
            return True

    def cancel_restart(self) -> None:
        """confpy is stopping: a command stopped for a restart is not started again."""
        with self._lock:
            self._restart_since = None

    def kill_due(self) -> float | None:
        """When (time.monotonic) `hurry` will SIGKILL the command; None while no restart waits."""
        with self._lock:
            return self._kill_due()

    def _kill_due(self) -> float | None:
        since = self._restart_since
        return None if since is None or self._killed or self.proc is None else since + KILL_AFTER

    def hurry(self) -> None:
        """SIGKILL a command stopped for a restart that has not ended after `KILL_AFTER` seconds."""
        with self._lock:
            due = self._kill_due()
            if due is None or time.monotonic() < due:
                return
            assert self.proc is not None  # _kill_due says so
            self._killed = True
            os.kill(self.proc.pid, signal.SIGKILL)
            log.warning("%s did not end %g s after it was told to: sent SIGKILL", self.name, KILL_AFTER)

    def send(self, signum: int) -> bool:
        """Signal the command if it still runs; False if it does not."""
        with self._lock:
            if self.proc is None or self.status is not None:
                return False
            os.kill(self.proc.pid, signum)
            return True

    def forward(self, signum: signal.Signals) -> None:
        """Pass a signal confpy received on to the command, if it still runs."""
        if self.send(signum):
            log.info("forwarded %s to %s", signum.name, self.name)

    def poll(self) -> None:
        """Reap the command if it has ended (the normal case: confpy is not PID 1)."""
        with self._lock:
            if self.proc is not None and self.status is None:
                with contextlib.suppress(ChildProcessError):
                    pid, wait_status = os.waitpid(self.proc.pid, os.WNOHANG)
                    if pid:
                        self._ended(wait_status)

    def reaped(self, pid: int, wait_status: int) -> bool:
        """Record a status reaped with waitpid(-1); True if it was the command's."""
        with self._lock:
            if self.proc is None or pid != self.proc.pid:
                return False
            self._ended(wait_status)
            return True

    def _ended(self, wait_status: int) -> None:
        """Called with the lock held: the command's status, or, in a restart, the next command."""
        assert self.proc is not None
        code = os.waitstatus_to_exitcode(wait_status)
        self.proc.returncode = code  # reaped here: subprocess must never wait for this PID again
        how = f"was killed by {signal_name(-code)}" if code < 0 else f"exited with status {code}"
        log.info("%s %s", self.name, how)
        if self._restart_since is None:
            self.status = exit_status(wait_status)
            return
        self._restart_since = None
        try:
            self._spawn()
        except OSError as exc:
            log.error("cannot restart %s: %s", self.name, exc.strerror)
            self.status = 127 if isinstance(exc, FileNotFoundError) else 126


class ReapGate:
    """As PID 1, waitpid(-1) would also reap a check_cmd or reload_cmd that subprocess is waiting
    for, and subprocess then reports it as a success. So orphans are reaped only while no such
    command runs (the command itself is always reaped at once); `on_idle` asks for a later pass."""

    def __init__(self, on_idle: Callable[[], None]) -> None:
        self.is_init = os.getpid() == 1
        self._cond = threading.Condition()
        self._busy = 0
        self._deferred = False
        self._on_idle = on_idle

    @contextlib.contextmanager
    def command(self) -> Iterator[None]:
        """Held while a resource may run check_cmd or reload_cmd."""
        with self._cond:
            self._busy += 1
        try:
            yield
        finally:
            with self._cond:
                self._busy -= 1
                wake = self._busy == 0 and self._deferred
                if wake:
                    self._deferred = False
            if wake:
                self._on_idle()

    def reap(self, child: Child) -> None:
        """Reap the command if it has ended; as PID 1 every ended child, unless a command runs."""
        if not self.is_init:
            child.poll()
            return
        with self._cond:
            if self._busy:
                self._deferred = True
                child.poll()
                return
            while True:
                try:
                    pid, wait_status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    return
                if pid == 0:
                    return
                if not child.reaped(pid, wait_status):
                    log.debug("reaped orphan process %d", pid)
