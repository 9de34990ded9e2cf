"""For tests that a library call leaves the process's signal handlers and wakeup fd as it found them."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

__all__ = ["SIGNALS", "caller_handlers", "wakeup_fd"]

#: Every signal some confpy entry point handles.
SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGCHLD)


def _handler(_signum: int, _frame: object) -> None:
    """A handler the caller had installed before the library call."""


def wakeup_fd() -> int:
    fd = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd)
    return fd


@contextlib.contextmanager
def caller_handlers() -> Iterator[None]:
    """Install a caller's own handlers (on SIGUSR1 and SIGHUP), and on leaving assert that the
    handlers and the wakeup fd are still the ones it had; then put back what the test found."""
    found = {signum: signal.getsignal(signum) for signum in SIGNALS}
    signal.signal(signal.SIGUSR1, _handler)
    signal.signal(signal.SIGHUP, _handler)
    try:
        installed = {signum: signal.getsignal(signum) for signum in SIGNALS}
        fd = wakeup_fd()
        yield
        assert {signum: signal.getsignal(signum) for signum in SIGNALS} == installed
        assert wakeup_fd() == fd
    finally:
        for signum, old in found.items():
            signal.signal(signum, old)  # type: ignore[arg-type]
