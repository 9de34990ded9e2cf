"""Logging in confd's format on stderr: `TIMESTAMP HOST confpy[PID]: LEVEL message`."""

from __future__ import annotations

import logging
import os
import socket
import sys
import time

__all__ = ["TRACE", "logger", "setup_logging"]

TRACE = 5
logging.addLevelName(TRACE, "TRACE")
logger = logging.getLogger("confpy")

_LEVELS = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
    "panic": logging.CRITICAL,
}


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


def setup_logging(level: str = "info") -> None:
    """Route confpy's log to stderr at `level` (confd's level names, plus trace)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_ConfdFormatter())
    logger.handlers[:] = [handler]
    logger.setLevel(_LEVELS[level.lower()])
    logger.propagate = False
