"""Sizes as people write them in config: "64MiB", "500MB", "1GiB", or a plain number of bytes."""

from __future__ import annotations

import re

from confpy.errors import ConfigError

__all__ = ["format_size", "parse_size"]

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
}
_SIZE = r"(\d+)\s*([a-z]*)"  # compiled on first use: most runs read no size


def parse_size(value: object, what: str) -> int:
    """Bytes from an integer or a string with a unit (kB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024).

    `what` names the setting in the error message; a size must be positive.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif (
        isinstance(value, str)
        and (match := re.fullmatch(_SIZE, value.strip().lower()))
        and match[2] in _UNITS
    ):
        size = int(match[1]) * _UNITS[match[2]]
    else:
        raise ConfigError(f'{what}: {value!r} is not a size (use e.g. "64MiB", "500MB" or a number of bytes)')
    if size <= 0:
        raise ConfigError(f"{what}: a size must be positive, got {value!r}")
    return size


def format_size(size: int) -> str:
    """The size in the largest binary unit that divides it ("64 MiB"), else in bytes."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"
