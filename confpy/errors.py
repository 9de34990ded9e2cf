"""Every error a user can cause, as one small tree.

    ConfpyError
    ├── ConfigError          bad flags, confd.toml, or a template resource (TOML) file
    ├── TemplateError        a template that does not parse or does not render
    │   └── KeyNotFoundError a template read a key that is not in the store
    ├── BackendError         the key/value store could not be read or watched
    │   ├── ValueDecodeError a value that is not valid UTF-8
    │   └── RevisionCompactedError  a watch asked for history etcd has compacted away
    ├── CommandError         a check_cmd or reload_cmd failed or timed out
    └── WriteError           the destination could not be staged or replaced

Each message names what the user has to look at: the file and line, the key, or the command.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "BackendError",
    "CommandError",
    "ConfigError",
    "ConfpyError",
    "FunctionError",
    "KeyNotFoundError",
    "RevisionCompactedError",
    "TemplateError",
    "ValueDecodeError",
    "WriteError",
    "closest",
    "did_you_mean",
    "reason",
]


class ConfpyError(Exception):
    """Base of every error confpy raises on purpose."""


class ConfigError(ConfpyError):
    """Flags, confd.toml or a template resource file are wrong."""

    path: Path | None = None
    """The template resource file that did not load (set by `load_resources`), else None."""


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

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"key does not exist: {self.key}"


class BackendError(ConfpyError):
    """The backend (etcd, env, file) could not be read or watched."""


class ValueDecodeError(BackendError):
    """A stored value is not valid UTF-8 text."""

    def __init__(self, key: str, resource: str | None = None) -> None:
        super().__init__(f"{resource + ': ' if resource else ''}value of key {key} is not valid UTF-8")
        self.key = key


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
    """A check_cmd or reload_cmd exited non-zero or ran past its timeout."""


class WriteError(ConfpyError):
    """The stage file could not be written or the destination could not be replaced."""


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name that `name` most likely misspells, for a message's "did you mean": the same
    name in another case or with `-` for `_`, else the nearest by difflib's ratio (0.6 and up)."""
    forms = {k.lower().replace("-", "_"): k for k in known}
    form = name.lower().replace("-", "_")
    if form in forms:
        return forms[form]
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
