"""`confpy exec`, the container entrypoint: its flags and what it does with them, for both of its
parsers. A sidecar's start is parsed by Go's rules (confpy.cli.main), without typer and click:
importing them costs ~20 ms and 4 MiB of every sidecar's memory. The typer app (confpy.cli.app)
takes `confpy exec --help` and the command lines Go's rules refuse."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from confpy.cli.command import Flag
from confpy.cli.goflags import Spec
from confpy.config.settings import SETTINGS
from confpy.errors import ConfpyError

__all__ = ["EXEC_FLAGS", "TTL", "TTL_DEFAULT", "run"]

TTL_DEFAULT = "15s"
TTL = Flag(
    "ttl", f"lease TTL: how long the key outlives a crash [{TTL_DEFAULT}]", "DURATION", takes_value=True
)
# exec's own flags, then every flag of the main command but the modes and what makes no sense
# around a child process.
_OWN = (
    Flag("wait-for", "first wait until KEY exists (repeatable)", "KEY", takes_value=True, repeatable=True),
    Flag(
        "register",
        "keep KEY=VALUE in etcd while the command runs (repeatable)",
        "KEY=VALUE",
        takes_value=True,
        repeatable=True,
    ),
    TTL,
    Flag(
        "reload-signal", "on a change, send the command this signal, not reload_cmd", "SIG", takes_value=True
    ),
)
_NOT_FOR_EXEC = ("onetime", "watch", "noop", "max_stale", "metrics_addr")
EXEC_FLAGS: tuple[Spec, ...] = (*_OWN, *(s for s in SETTINGS if s.name not in _NOT_FOR_EXEC))
_OWN_NAMES = frozenset(flag.name for flag in _OWN)


def run(flags: Mapping[str, Any], command: Sequence[str]) -> int:
    """Run `command` under confpy as `flags` (the given ones, by name) say; its exit status, or
    confpy's error's (confpy.errors: 2 for configuration)."""
    from confpy.config.signals import parse_signal
    from confpy.runtime.launch import cap_malloc_arenas, configure
    from confpy.sidecar.exec import run_exec
    from confpy.sidecar.register import parse_entry, parse_ttl

    try:
        settings = configure({name: value for name, value in flags.items() if name not in _OWN_NAMES})
        cap_malloc_arenas()  # long-running, as -watch
        signal_name = flags.get("reload_signal")
        return run_exec(
            settings,
            command,
            wait_for=flags.get("wait_for") or (),
            register=dict(parse_entry(entry) for entry in flags.get("register") or ()),
            ttl=parse_ttl(flags.get("ttl") or TTL_DEFAULT),
            reload_signal=parse_signal(signal_name) if signal_name else None,
        )
    except ConfpyError as exc:
        logging.getLogger("confpy").error("%s", exc)
        return exc.exit_status
