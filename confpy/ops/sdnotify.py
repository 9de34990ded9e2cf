"""systemd's notify protocol (sd_notify), without a dependency.

With `Type=notify` systemd waits for `READY=1` before it counts the service as started, shows
`STATUS=...` in `systemctl status`, and with `WatchdogSec=` restarts the service unless it sends
`WATCHDOG=1` in time. Outside systemd (no `$NOTIFY_SOCKET`) every call is a silent no-op.
"""

from __future__ import annotations

import logging
import os
import socket

__all__ = ["notify", "watchdog_period"]

log = logging.getLogger("confpy")


def _address(value: str) -> str | None:
    """The socket address: a path, or `@name` for Linux's abstract namespace (a leading NUL)."""
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    return None


def notify(*states: str) -> bool:
    """Send `states` ("READY=1", "STATUS=...", "WATCHDOG=1") to systemd; True if it was sent.

    A newline inside a state is replaced by a space: a status built from an error message must not
    smuggle in another assignment (a `READY=1` or `WATCHDOG=1` of its own).
    """
    target = os.environ.get("NOTIFY_SOCKET", "")
    address = _address(target)
    if not states or address is None:
        return False
    message = "\n".join(state.replace("\n", " ") for state in states).encode("utf-8")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message)
    except OSError as exc:
        log.debug("cannot notify systemd at %s: %s", target, exc)
        return False
    return True


def watchdog_period() -> float | None:
    """Seconds between `WATCHDOG=1` pings: half of `$WATCHDOG_USEC`, as systemd recommends.

    None when no watchdog is set, or when `$WATCHDOG_PID` names another process (a child that
    inherited the variables must not ping for its parent).
    """
    usec = os.environ.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid is not None and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(usec) / 1_000_000 / 2
