"""Durations as confd and consul-template users write them: "500ms", "2s", "1m30s", or seconds."""

from __future__ import annotations

import re
from typing import NamedTuple

from confpy.errors import ConfigError

__all__ = ["Wait", "format_duration", "parse_duration", "parse_wait"]

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)"  # compiled on first use: a duration with units


def parse_duration(value: object, what: str) -> float:
    """Seconds from a Go duration string ("1m30s") or a plain number of seconds.

    `what` names the setting in the error message, e.g. "check_cmd_timeout in conf.d/app.toml".
    """
    if isinstance(value, bool):
        raise ConfigError(f'{what}: expected a duration such as "30s", got {value!r}')
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(\.\d*)?", text):
            seconds = float(text)
        else:
            pos, seconds = 0, 0.0
            for match in re.finditer(_PART, text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNITS[match.group(2)]
                pos = match.end()
            if pos != len(text) or not text:
                raise ConfigError(
                    f"{what}: {value!r} is not a duration (use seconds, e.g. 60, or 500ms, 1m30s)"
                )
    else:
        raise ConfigError(f'{what}: expected a duration such as "30s", got {value!r}')
    if seconds < 0:
        raise ConfigError(f"{what}: a duration cannot be negative ({value!r})")
    return seconds


def format_duration(seconds: float) -> str:
    """Short human form for messages: "30 s", "250 ms"."""
    if seconds < 1:
        return f"{seconds * 1000:g} ms"
    return f"{seconds:g} s"


class Wait(NamedTuple):
    """consul-template's quiescence timer: run after `min` of quiet, at most `max` after the first change."""

    min: float
    max: float


def parse_wait(value: object, what: str) -> Wait | None:
    """`"2s"`, `"2s:10s"` or `{min = "2s", max = "10s"}`; max defaults to 4 x min, as consul-template's."""
    if value is None or value == "" or value == "0":
        return None
    if isinstance(value, dict):
        unknown = set(value) - {"min", "max"}
        if unknown or "min" not in value:
            raise ConfigError(f'{what}: expected {{ min = "2s", max = "10s" }}, got {value!r}')
        low = parse_duration(value["min"], what)
        high = parse_duration(value["max"], what) if "max" in value else 4 * low
    elif isinstance(value, str) and ":" in value:
        first, _, second = value.partition(":")
        low, high = parse_duration(first, what), parse_duration(second, what)
    else:
        low = parse_duration(value, what)
        high = 4 * low
    if high < low:
        raise ConfigError(
            f"{what}: max ({format_duration(high)}) is shorter than min ({format_duration(low)})"
        )
    return Wait(low, high) if low > 0 else None
