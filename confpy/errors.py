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

    def __init__(self, key: str) -> None:
        super().__init__(f"value of key {key} is not valid UTF-8")
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
