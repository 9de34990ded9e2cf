"""Every error a user can cause, as one small tree, and the context each one carries.

    ConfpyError
    ├── ConfigError          bad flags, confd.toml, or a template resource (TOML) file
    ├── TemplateError        a template that does not parse or does not render
    │   ├── FunctionError    a template function failed (Go's engine prints its Go error)
    │   └── KeyNotFoundError a template read a key that is not in the store
    ├── BackendError         the key/value store could not be read or watched
    │   ├── EndpointError    the endpoint answers, but not as configured (not etcd, TLS, login)
    │   ├── ValueDecodeError a value that is not valid UTF-8
    │   └── RevisionCompactedError  a watch asked for history etcd has compacted away
    ├── CommandError         a check_cmd or reload_cmd failed or timed out
    └── WriteError           the destination could not be staged or replaced

Each message names what the user has to look at: the file and line, the key, or the command.
The same context travels as fields, so that nothing has to read it back out of the message:
`resource` (the resource's name, its path relative to conf.d, such as "nginx.toml"), `path` (the
file the error is about: a resource file, confd.toml, a template), `line` (1-based, in `path`),
`key` (a store key; for a ConfigError, the confd.toml or `[template]` key it is about), and
`exit_status`. The field a raise site knows it sets there (the engine sets a template's path and
line, `invalid_toml` the line of a TOML error, a field's reader its key); the rest is attached
by `context` at the one boundary that knows it (a resource's name where it is loaded and where
it is applied). The log (the JSON `resource`), `confpy check` (FILE:LINE) and the exit status
read the fields.

Exit statuses, decided here (README and docs cite this table):

    0    success
    1    EXIT_FAILED: any other ConfpyError; a -onetime run in which a resource failed;
         `confpy check` or `confpy convert` found problems
    2    EXIT_CONFIG: a ConfigError (bad flags, confd.toml or a template resource); an
         EndpointError in -onetime, or before -watch or interval mode first reached the backend
    3    EXIT_STALE: no working watch for longer than -max-stale
    126  `confpy exec`: the command cannot be run; 127: it is not found
    128+N  stopped by signal N (130: interrupted by Ctrl-C)
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Self

if TYPE_CHECKING:  # imported where used: `confpy --help` loads this module and needs neither
    import tomllib
    from contextvars import ContextVar

__all__ = [
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_STALE",
    "BackendError",
    "CommandError",
    "ConfigError",
    "ConfpyError",
    "EndpointError",
    "FunctionError",
    "KeyNotFoundError",
    "RevisionCompactedError",
    "TemplateError",
    "ValueDecodeError",
    "WriteError",
    "closest",
    "context",
    "current",
    "did_you_mean",
    "invalid_toml",
    "reason",
]

EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_STALE = 3


class ConfpyError(Exception):
    """Base of every error confpy raises on purpose; its fields say where it happened (None: unknown)."""

    exit_status: ClassVar[int] = EXIT_FAILED
    resource: str | None = None
    """The resource's name: its path relative to conf.d, such as "nginx.toml"."""
    path: Path | None = None
    """The file the error is about: a resource file, confd.toml, a template."""
    line: int | None = None
    """The 1-based line in `path`."""
    key: str | None = None
    """The store key the error is about; for a ConfigError, the TOML key (check shows its line)."""

    def __init__(
        self,
        *args: object,
        resource: str | None = None,
        path: Path | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(*args)
        _attach(self, {"resource": resource, "path": path, "line": line, "key": key})

    def fields(self) -> dict[str, object]:
        """The fields that are set."""
        return {name: value for name in _FIELDS if (value := getattr(self, name)) is not None}

    def retold(self, message: str) -> Self:
        """The same error in other words (redacted, or saying more): its type and fields kept."""
        told = type(self)(message)
        _attach(told, self.fields())
        return told


_FIELDS = ("resource", "path", "line", "key")
_NO_CONTEXT: Mapping[str, object] = MappingProxyType({})
_current: ContextVar[Mapping[str, object]] | None = None
_creating = threading.Lock()


def _context_var() -> ContextVar[Mapping[str, object]]:
    """The variable `context` sets, made on first use (once, whichever thread gets there first)."""
    global _current
    if _current is None:
        with _creating:
            if _current is None:
                from contextvars import ContextVar

                _current = ContextVar("confpy_error_context", default=_NO_CONTEXT)
    return _current


def _attach(exc: ConfpyError, fields: Mapping[str, object]) -> None:
    """Set each given field the error does not have yet: the innermost knowledge wins."""
    for name, value in fields.items():
        if value is not None and getattr(exc, name) is None:
            setattr(exc, name, value)


class context:
    """The boundary that knows some context: a ConfpyError passing through gets the fields it
    lacks, and what is logged inside is about them too (`current`, read by confpy.log).

    A class, not a @contextmanager generator: a resource's run enters several, and between puts
    a generator's set-up is a measurable part of a reaction.
    """

    __slots__ = ("_given", "_token")

    def __init__(
        self,
        *,
        resource: str | None = None,
        path: Path | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self._given = {"resource": resource, "path": path, "line": line, "key": key}

    def __enter__(self) -> None:
        var = _context_var()
        self._token = var.set({**var.get(), **{k: v for k, v in self._given.items() if v is not None}})

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, ConfpyError):
            _attach(exc, self._given)
        _context_var().reset(self._token)


def current() -> Mapping[str, object]:
    """The fields of the `context` blocks the caller runs in (an inner block's win), possibly none."""
    return _NO_CONTEXT if _current is None else _current.get()


class ConfigError(ConfpyError):
    """Flags, confd.toml or a template resource file are wrong."""

    exit_status: ClassVar[int] = EXIT_CONFIG


def invalid_toml(path: Path, exc: tomllib.TOMLDecodeError) -> ConfigError:
    """A TOML file that does not parse, with the line tomllib names (Python 3.14 gives it as a
    field; before, only its message says it, once, as `(at line N, column M)`)."""
    line: int | None = getattr(exc, "lineno", None)
    if line is None:
        _, at, rest = str(exc).rpartition("(at line ")
        number = rest.partition(",")[0]
        line = int(number) if at and number.isdigit() else None
    return ConfigError(f"{path}: invalid TOML: {exc}", path=path, line=line)


class TemplateError(ConfpyError):
    """A template failed to parse or render."""


class FunctionError(TemplateError):
    """A template function's failure: str() says it for a Jinja template, naming the function;
    `go_error` is the error confd's Go function returns, which the Go engine prints as confd does
    (after `error calling NAME: `)."""

    def __init__(self, message: str, go_error: str) -> None:
        super().__init__(message)
        self.go_error = go_error


class KeyNotFoundError(TemplateError, KeyError):
    """A template asked for a key the store does not hold (confd: `key does not exist`)."""

    key: str

    def __init__(self, key: str) -> None:
        super().__init__(key, key=key)

    def __str__(self) -> str:
        return f"key does not exist: {self.key}"


class BackendError(ConfpyError):
    """The backend (etcd, env, file) could not be read or watched."""


class EndpointError(BackendError):
    """The backend's endpoint answers, definitely not as configured: not etcd's API (a web server
    on the port), TLS that does not match, credentials refused. Waiting cannot cure it, so it is
    a configuration error at start (exit 2); once confpy has run with the backend it is retried as
    any backend error is (a certificate being rotated, a password being changed)."""

    exit_status: ClassVar[int] = EXIT_CONFIG


class ValueDecodeError(BackendError):
    """A stored value is not valid UTF-8 text."""

    key: str

    def __init__(self, key: str, resource: str | None = None) -> None:
        super().__init__(
            f"{resource + ': ' if resource else ''}value of key {key} is not valid UTF-8",
            resource=resource,
            key=key,
        )


class WatchUnavailableError(BackendError):
    """The server answers but cannot stream changes as it is configured (redis keyspace
    notifications off): watch mode says so once and re-reads every `-interval` instead."""


class RevisionCompactedError(BackendError):
    """The watch's start revision is older than the backend keeps; re-read a snapshot."""

    def __init__(self, revision: int, compact_revision: int) -> None:
        super().__init__(
            f"revision {revision} has been compacted (oldest available: {compact_revision}); "
            "re-reading a full snapshot"
        )
        self.revision = revision
        self.compact_revision = compact_revision


class CommandError(ConfpyError):
    """A check_cmd or reload_cmd exited non-zero or ran past its timeout; `step` says which
    ("check_cmd", "reload_cmd"; None: another command), for the metrics that count each."""

    def __init__(self, *args: object, step: str | None = None, **fields: Any) -> None:
        super().__init__(*args, **fields)
        self.step = step

    def retold(self, message: str) -> Self:
        told = super().retold(message)
        told.step = self.step
        return told


class WriteError(ConfpyError):
    """The stage file could not be written or the destination could not be replaced."""


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name that `name` most likely misspells, for a message's "did you mean": the same
    name in another case or with `-` for `_`, else the nearest by difflib's ratio (0.6 and up)."""
    forms = {k.lower().replace("-", "_"): k for k in known}
    form = name.lower().replace("-", "_")
    if form in forms:
        return forms[form]
    import difflib  # only for a misspelt name

    matches = difflib.get_close_matches(form, list(forms), n=1)
    return forms[matches[0]] if matches else None


def did_you_mean(close: str | None) -> str:
    """The hint that ends a message about an unknown name: ` (did you mean X?)`, or nothing."""
    return f" (did you mean {close}?)" if close else ""


def reason(exc: BaseException) -> str:
    """The exception's message, or what it means when it has none (a MemoryError says nothing)."""
    return str(exc) or _SILENT.get(type(exc), type(exc).__name__)


_SILENT: dict[type[BaseException], str] = {
    MemoryError: "out of memory",
    RecursionError: "too deeply nested",
    TimeoutError: "timed out",
}
