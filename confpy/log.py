"""Logging on stderr, in confd's text format or as JSON lines for log pipelines.

Text (confd's): `TIMESTAMP HOST confpy[PID]: LEVEL message`.
JSON: one object per line, `{"time", "level", "msg", "host", "pid"}`, plus `resource` when the
record is about one: given as `extra={"resource": name}` (`None` says it is about none), else the
`resource` field of a ConfpyError among the message's arguments (`log.error("%s", exc)`), else the
resource of the `confpy.errors.context` the record is logged in. The message then drops the
`<resource>: ` it starts with, as confpy's messages about a resource do, since it is a field.

Values from the backend are secrets as far as logging goes: they appear only at `-log-level trace`.
That is up to the callers; nothing here filters messages.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import socket
import sys
import time

from confpy.errors import ConfigError, ConfpyError, current

__all__ = ["LOG_FORMATS", "LOG_LEVELS", "TRACE", "hold_logging", "level_number", "logger", "setup_logging"]

TRACE = 5
logging.addLevelName(TRACE, "TRACE")
logger = logging.getLogger("confpy")

LOG_FORMATS = ("text", "json")
"""-log-format's choices: confd's text lines, or JSON lines for log pipelines."""

LOG_LEVELS = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
    "panic": logging.CRITICAL,
}
"""-log-level's choices, confd's names (any case) plus trace, and the levels they set."""
_JSON_LEVELS = {
    TRACE: "trace",
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "fatal",
}


def _with_context(record: logging.LogRecord) -> bool:
    """Give the record the `resource` and `path` it is about, where the call did not (see above),
    when it is logged: a held record is formatted later, outside the context it was logged in."""
    arguments = record.args if isinstance(record.args, tuple) else ()
    error = next((a for a in arguments if isinstance(a, ConfpyError)), None)
    found = {**current(), **(error.fields() if error else {})}
    for name in ("resource", "path"):
        if name not in record.__dict__:
            setattr(record, name, found.get(name))
    return True


logger.addFilter(_with_context)


class _ConfdFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._prefix = f"{socket.gethostname()} confpy[{os.getpid()}]:"

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(record.created))
        level = "WARNING" if record.levelno == logging.WARNING else record.levelname
        line = f"{stamp} {self._prefix} {level} {record.getMessage()}"
        if record.exc_info and logger.isEnabledFor(logging.DEBUG):
            line += "\n" + self.formatException(record.exc_info)
        return line


class _JsonFormatter(logging.Formatter):
    """One JSON object per line; the message keeps no `<resource>: ` prefix once it is a field."""

    def __init__(self) -> None:
        super().__init__()
        self._host = socket.gethostname()
        self._pid = os.getpid()

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        resource = getattr(record, "resource", None)
        if resource is not None:
            message = message.removeprefix(f"{resource}: ")
        stamp = datetime.datetime.fromtimestamp(record.created).astimezone()
        entry: dict[str, object] = {
            "time": stamp.isoformat(timespec="milliseconds"),
            "level": _JSON_LEVELS.get(record.levelno, record.levelname.lower()),
            "msg": message,
            "host": self._host,
            "pid": self._pid,
        }
        if resource is not None:
            entry["resource"] = str(resource)
        if record.exc_info and logger.isEnabledFor(logging.DEBUG):
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _Held(logging.Handler):
    """Keeps records until `setup_logging` knows the level and format to show them in."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def hold_logging() -> None:
    """Keep what is logged until the next `setup_logging`, which shows it in the format chosen.

    confd.toml is read before the log is set up, and may itself set the format: its warnings wait.
    """
    logger.handlers[:] = [_Held()]
    logger.setLevel(TRACE)
    logger.propagate = False


def level_number(level: str) -> int:
    """The logging level that one of `LOG_LEVELS` names; a ConfigError names the choices."""
    if level.lower() not in LOG_LEVELS:
        raise ConfigError(f"unknown log level {level!r} (use one of {', '.join(LOG_LEVELS)})")
    return LOG_LEVELS[level.lower()]


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    """Route confpy's log to stderr at `level` (confd's level names, plus trace) in `fmt`."""
    number = level_number(level)
    if fmt not in LOG_FORMATS:
        raise ConfigError(f"unknown log format {fmt!r} (use one of {', '.join(LOG_FORMATS)})")
    held = [r for h in logger.handlers if isinstance(h, _Held) for r in h.records]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _ConfdFormatter())
    logger.handlers[:] = [handler]
    logger.setLevel(number)
    logger.propagate = False
    for record in held:
        if logger.isEnabledFor(record.levelno):
            handler.handle(record)
