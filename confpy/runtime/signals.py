"""Signals acted on at once, whichever thread the kernel hands them to.

Python runs a signal's handler on the main thread only, and only when that thread next runs
Python code: a SIGTERM delivered to one of the other threads (a worker's, gRPC's) waited until
the main thread woke up by itself, up to the whole `-interval` while it slept on a queue, and a
supervisor then SIGKILLed confpy mid-write. Python's C-level handler, though, runs in whichever
thread receives the signal and writes the signal's number to the wakeup fd
(`signal.set_wakeup_fd`); `SignalRelay` reads that fd on a thread of its own and calls the
handler from there, at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Collection
from types import FrameType, TracebackType
from typing import Any

__all__ = ["SignalRelay", "stop_once"]

log = logging.getLogger("confpy")

# Written by `__exit__` to end the relay thread: no signal has number 0.
_STOP = b"\0"


def stop_once(stopping: threading.Event, signum: int) -> None:
    """A stop signal: the first sets `stopping` (stop gracefully); a second exits at once, 128+N.

    The second is for a graceful stop that hangs (a check_cmd that never ends): a supervisor's
    SIGKILL after its grace period, or a user's second Ctrl-C.
    """
    if stopping.is_set():
        os._exit(128 + signum)
    stopping.set()


def _noted(_signum: int, _frame: FrameType | None) -> None:
    """The Python-level handler: the relay acts; this only keeps the default action away."""


class SignalRelay:
    """While entered, `handler(signum)` runs on the relay's thread for each of `signals` received.

    Enter it on the main thread (Python allows the wakeup fd to be set there only). Signals with
    Python handlers installed elsewhere also wake the fd; the relay ignores those.
    """

    def __init__(self, signals: Collection[int], handler: Callable[[int], None]) -> None:
        self.signals = frozenset(signals)
        self.handler = handler
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self._old_handlers: dict[int, Any] = {}
        self._old_fd = -1
        self._fd_set = False
        self._thread = threading.Thread(target=self._relay, name="confpy-signals", daemon=True)

    def __enter__(self) -> SignalRelay:
        try:
            self._old_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
            self._fd_set = True
            for signum in self.signals:
                self._old_handlers[signum] = signal.signal(signum, _noted)
        except BaseException:  # not on the main thread, or a signal that cannot be caught
            self._restore()
            self._reader.close()
            self._writer.close()
            raise
        # Signals received until the thread runs wait in the socket's buffer.
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._restore()
        with contextlib.suppress(OSError):
            self._writer.send(_STOP)
        self._thread.join(5)
        self._reader.close()
        self._writer.close()

    def _restore(self) -> None:
        """Put back the handlers and the wakeup fd found on entry (a library call leaves no trace)."""
        for signum, old in self._old_handlers.items():
            if old is not None:  # None: a handler installed outside Python, which cannot be restored
                signal.signal(signum, old)
        self._old_handlers.clear()
        if self._fd_set:
            signal.set_wakeup_fd(self._old_fd)
            self._fd_set = False

    def _relay(self) -> None:
        while True:
            try:
                data = self._reader.recv(64)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum == 0:
                    return
                if signum in self.signals:
                    try:
                        self.handler(signum)
                    except Exception:  # the relay must outlive a faulty handler
                        log.exception("handling signal %d failed", signum)
