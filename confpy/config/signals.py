"""Signal names as users write them (`HUP`, `SIGHUP`, `1`): `-reload-signal`, and the
`reload_signal` and `kill_signal` fields of a resource."""

from __future__ import annotations

import signal

from confpy.errors import ConfigError

__all__ = ["parse_signal"]


def parse_signal(text: str) -> signal.Signals:
    """`HUP`, `SIGHUP` or `1`; a ConfigError for anything else."""
    name = text.strip().upper()
    try:
        if name.isdigit():
            return signal.Signals(int(name))
        return signal.Signals[f"SIG{name.removeprefix('SIG')}"]
    except (KeyError, ValueError):
        raise ConfigError(f"unknown signal {text!r} (use a name such as HUP or USR1, or a number)") from None
