"""The sidecar commands, `confpy register`, `wait` and `exec` (a container's entrypoint): their
flags and what they do with them, for both of their parsers. A sidecar's start is parsed by Go's
rules (confpy.cli.main), without typer and click: importing them costs ~20 ms and 4 MiB of every
sidecar's memory. The typer app (confpy.cli.app) takes their --help and the command lines Go's
rules refuse."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from confpy.cli.command import Flag
from confpy.cli.goflags import Spec
from confpy.config.settings import SETTINGS
from confpy.errors import ConfpyError

if TYPE_CHECKING:
    from confpy.config.settings import Settings

__all__ = ["COMMANDS", "EXEC", "REGISTER", "WAIT", "Command"]

_BY_NAME = {s.name: s for s in SETTINGS}
# What register and wait take of the main command's flags: where the backend is, and the log.
# Not settings.CONNECTION (a resource's [backend] keys): no -file, -filter or -separator, since
# register holds keys on an etcd lease, and CONNECTION has neither confd.toml's flags nor the log's.
_CONNECTION = (
    "backend",
    "nodes",
    "confdir",
    "config_file",
    "client_cert",
    "client_key",
    "client_ca_keys",
    "username",
    "password",
    "basic_auth",
    "connect_timeout",
    "etcd_transport",
    "log_level",
    "log_format",
)
# exec takes every flag of the main command but the modes and what makes no sense around a child.
_NOT_FOR_EXEC = ("onetime", "watch", "noop", "max_stale", "metrics_addr")

_TTL_DEFAULT = "15s"
_TTL = Flag(
    "ttl", f"lease TTL: how long the key outlives a crash [{_TTL_DEFAULT}]", "DURATION", takes_value=True
)
_TIMEOUT = Flag("timeout", "give up after this long, exit 1 [wait forever]", "DURATION", takes_value=True)
_WAIT_FOR = Flag(
    "wait-for", "first wait until KEY exists (repeatable)", "KEY", takes_value=True, repeatable=True
)
_REGISTER = Flag(
    "register",
    "keep KEY=VALUE in etcd while the command runs (repeatable)",
    "KEY=VALUE",
    takes_value=True,
    repeatable=True,
)
_RELOAD_SIGNAL = Flag(
    "reload-signal", "on a change, send the command this signal, not reload_cmd", "SIG", takes_value=True
)


def _register(settings: Settings, flags: Mapping[str, Any], args: Sequence[str]) -> int:
    from confpy.sidecar.register import parse_ttl, run_register

    key, value = args
    return run_register(settings, key, value, parse_ttl(flags.get("ttl") or _TTL_DEFAULT))


def _wait(settings: Settings, flags: Mapping[str, Any], args: Sequence[str]) -> int:
    from confpy.config.duration import parse_duration
    from confpy.sidecar.wait import run_wait

    timeout = flags.get("timeout")
    return run_wait(settings, args, None if timeout is None else parse_duration(timeout, "-timeout"))


def _exec(settings: Settings, flags: Mapping[str, Any], args: Sequence[str]) -> int:
    from confpy.config.signals import parse_signal
    from confpy.sidecar.exec import run_exec
    from confpy.sidecar.register import parse_entry, parse_ttl

    signal_name = flags.get("reload_signal")
    return run_exec(
        settings,
        args,
        wait_for=flags.get("wait_for") or (),
        register=dict(parse_entry(entry) for entry in flags.get("register") or ()),
        ttl=parse_ttl(flags.get("ttl") or _TTL_DEFAULT),
        reload_signal=parse_signal(signal_name) if signal_name else None,
    )


class Command(NamedTuple):
    """A sidecar command: its own flags, the main command's it takes, how many arguments, and
    what it does with them once the settings are read."""

    own: tuple[Flag, ...]
    settings: tuple[str, ...]
    arguments: tuple[int, int | None]  # at least, at most (None: any number)
    interspersed: bool  # flags may also follow the arguments (click's default; not exec's COMMAND)
    action: Callable[[Settings, Mapping[str, Any], Sequence[str]], int]

    @property
    def flags(self) -> tuple[Spec, ...]:
        return (*self.own, *(_BY_NAME[name] for name in self.settings))

    def run(self, flags: Mapping[str, Any], args: Sequence[str]) -> int:
        """Do the command as `flags` (the given ones, by name) and `args` say; its exit status, or
        confpy's error's (confpy.errors: 2 for configuration)."""
        from confpy.runtime.launch import cap_malloc_arenas, configure

        own = {flag.name for flag in self.own}
        try:
            settings = configure({name: value for name, value in flags.items() if name not in own})
            cap_malloc_arenas()  # each runs until it is told to stop, as -watch does
            return self.action(settings, flags, args)
        except ConfpyError as exc:
            logging.getLogger("confpy").error("%s", exc)
            return exc.exit_status


REGISTER = Command((_TTL,), _CONNECTION, (2, 2), True, _register)
WAIT = Command((_TIMEOUT,), _CONNECTION, (1, None), True, _wait)
EXEC = Command(
    (_WAIT_FOR, _REGISTER, _TTL, _RELOAD_SIGNAL),
    tuple(s.name for s in SETTINGS if s.name not in _NOT_FOR_EXEC),
    (1, None),
    False,
    _exec,
)
COMMANDS = {"register": REGISTER, "wait": WAIT, "exec": EXEC}
