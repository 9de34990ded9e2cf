"""Go's time.Time as templates see it: a Python datetime with Go's methods and layouts.

confd's `datetime` is Go's time.Now; templates call `.Format "2006-01-02"`, `.Unix`, `.Year`...
`format()` ports time.Format's layout scanner (nextStdChunk) so Go's reference-time layouts work.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

__all__ = ["METHODS", "Month", "Weekday", "format_time", "time_string"]

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


class Month(int):
    """time.Month: an int that prints as its English name."""

    def String(self) -> str:
        return _MONTHS[self - 1] if 1 <= self <= 12 else f"%!Month({int(self)})"


class Weekday(int):
    """time.Weekday (Sunday = 0): an int that prints as its English name."""

    def String(self) -> str:
        return _DAYS[self] if 0 <= self <= 6 else f"%!Weekday({int(self)})"


def _lower_follows(layout: str, i: int) -> bool:
    return i < len(layout) and "a" <= layout[i] <= "z"


def _next_chunk(layout: str) -> tuple[str, str, str]:
    """time.nextStdChunk: (literal prefix, layout element, rest); element "" when none is left."""
    n = len(layout)
    for i, c in enumerate(layout):
        rest = layout[i:]
        std = ""
        if c == "J" and rest.startswith("Jan"):
            if rest.startswith("January"):
                std = "January"
            elif not _lower_follows(layout, i + 3):
                std = "Jan"
        elif c == "M":
            if rest.startswith("Monday"):
                std = "Monday"
            elif rest.startswith("Mon") and not _lower_follows(layout, i + 3):
                std = "Mon"
            elif rest.startswith("MST"):
                std = "MST"
        elif c == "0":
            if i + 1 < n and "1" <= layout[i + 1] <= "6":
                std = rest[:2]
            elif rest.startswith("002"):
                std = "002"
        elif c == "1":
            std = "15" if rest.startswith("15") else "1"
        elif c == "2":
            std = "2006" if rest.startswith("2006") else "2"
        elif c == "_":
            if rest.startswith("_2"):
                if rest.startswith("_2006"):  # a literal "_" and then the year
                    return layout[: i + 1], "2006", layout[i + 5 :]
                std = "_2"
            elif rest.startswith("__2"):
                std = "__2"
        elif c in "345":
            std = c
        elif c == "P" and rest.startswith("PM"):
            std = "PM"
        elif c == "p" and rest.startswith("pm"):
            std = "pm"
        elif c in "-Z":
            for zone in ("070000", "07:00:00", "0700", "07:00", "07"):
                if rest.startswith(c + zone):
                    std = c + zone
                    break
        elif c in ".," and i + 1 < n and layout[i + 1] in "09":
            j = i + 1
            while j < n and layout[j] == layout[i + 1]:
                j += 1
            if not (j < n and layout[j].isdigit()):
                return layout[:i], layout[i:j], layout[j:]
        if std:
            return layout[:i], std, layout[i + len(std) :]
    return layout, "", ""


def _zone(dt: datetime.datetime) -> tuple[str, int]:
    """The zone's abbreviation and its offset east of UTC in seconds."""
    offset = dt.utcoffset()
    if offset is None:
        return "UTC", 0
    return dt.tzname() or "", int(offset.total_seconds())


def _numeric_zone(std: str, offset: int) -> str:
    if std[0] == "Z" and offset == 0:
        return "Z"
    sign = "-" if offset < 0 else "+"
    offset = abs(offset)
    out = f"{sign}{offset // 3600:02d}"
    body = std[1:]
    if ":" in body:
        out += ":"
    if body != "07":
        out += f"{offset // 60 % 60:02d}"
    if body in ("070000", "07:00:00"):
        out += (":" if ":" in body else "") + f"{offset % 60:02d}"
    return out


def _element(dt: datetime.datetime, std: str) -> str:
    """One layout element of dt, as time.Time.AppendFormat writes it."""
    if std[0] in ".,":
        digits = f"{dt.microsecond:06d}000"[: len(std) - 1]
        if std[1] == "9":
            digits = digits.rstrip("0")
            return std[0] + digits if digits else ""
        return std[0] + digits
    hour12 = dt.hour % 12 or 12
    simple: dict[str, Callable[[], str]] = {
        "2006": lambda: f"{dt.year:04d}",
        "06": lambda: f"{dt.year % 100:02d}",
        "January": lambda: _MONTHS[dt.month - 1],
        "Jan": lambda: _MONTHS[dt.month - 1][:3],
        "1": lambda: str(dt.month),
        "01": lambda: f"{dt.month:02d}",
        "Monday": lambda: _DAYS[(dt.weekday() + 1) % 7],
        "Mon": lambda: _DAYS[(dt.weekday() + 1) % 7][:3],
        "2": lambda: str(dt.day),
        "_2": lambda: f"{dt.day:2d}",
        "02": lambda: f"{dt.day:02d}",
        "__2": lambda: f"{dt.timetuple().tm_yday:3d}",
        "002": lambda: f"{dt.timetuple().tm_yday:03d}",
        "15": lambda: f"{dt.hour:02d}",
        "3": lambda: str(hour12),
        "03": lambda: f"{hour12:02d}",
        "4": lambda: str(dt.minute),
        "04": lambda: f"{dt.minute:02d}",
        "5": lambda: str(dt.second),
        "05": lambda: f"{dt.second:02d}",
        "PM": lambda: "PM" if dt.hour >= 12 else "AM",
        "pm": lambda: "pm" if dt.hour >= 12 else "am",
    }
    if std in simple:
        return simple[std]()
    name, offset = _zone(dt)
    if std == "MST":
        if name:
            return name
        return f"{'-' if offset < 0 else '+'}{abs(offset) // 3600:02d}{abs(offset) // 60 % 60:02d}"
    return _numeric_zone(std, offset)


def format_time(dt: datetime.datetime, layout: str) -> str:
    """time.Time.Format(layout)."""
    out: list[str] = []
    while layout:
        prefix, std, layout = _next_chunk(layout)
        out.append(prefix)
        if not std:
            break
        out.append(_element(dt, std))
    return "".join(out)


def time_string(dt: datetime.datetime) -> str:
    """time.Time.String() (without the monotonic clock reading Go appends to time.Now)."""
    return format_time(dt, "2006-01-02 15:04:05.999999999 -0700 MST")


def _local(dt: datetime.datetime) -> datetime.datetime:
    return dt.astimezone()


def _utc(dt: datetime.datetime) -> datetime.datetime:
    return dt.astimezone(datetime.UTC)


def _unix(dt: datetime.datetime) -> int:
    return int(dt.timestamp() // 1)


def _unix_nano(dt: datetime.datetime) -> int:
    return _unix(dt) * 1_000_000_000 + dt.microsecond * 1000


def _add_date(dt: datetime.datetime, years: int, months: int, days: int) -> datetime.datetime:
    """time.Time.AddDate: normalises overflowing months and days like Go."""
    month0 = dt.month - 1 + months
    year = dt.year + years + month0 // 12
    first = dt.replace(year=year, month=month0 % 12 + 1, day=1)
    return first + datetime.timedelta(days=dt.day - 1 + days)


#: Go method name -> (implementation, number of arguments).
METHODS: dict[str, tuple[Callable[..., Any], int]] = {
    "Format": (format_time, 1),
    "String": (time_string, 0),
    "Unix": (_unix, 0),
    "UnixMilli": (lambda dt: _unix_nano(dt) // 1_000_000, 0),
    "UnixMicro": (lambda dt: _unix_nano(dt) // 1_000, 0),
    "UnixNano": (_unix_nano, 0),
    "Year": (lambda dt: dt.year, 0),
    "Month": (lambda dt: Month(dt.month), 0),
    "Day": (lambda dt: dt.day, 0),
    "Hour": (lambda dt: dt.hour, 0),
    "Minute": (lambda dt: dt.minute, 0),
    "Second": (lambda dt: dt.second, 0),
    "Nanosecond": (lambda dt: dt.microsecond * 1000, 0),
    "YearDay": (lambda dt: dt.timetuple().tm_yday, 0),
    "Weekday": (lambda dt: Weekday((dt.weekday() + 1) % 7), 0),
    "UTC": (_utc, 0),
    "Local": (_local, 0),
    "IsZero": (lambda dt: dt == datetime.datetime(1, 1, 1, tzinfo=datetime.UTC), 0),
    "Before": (lambda dt, u: dt < u, 1),
    "After": (lambda dt, u: dt > u, 1),
    "Equal": (lambda dt, u: dt == u, 1),
    "AddDate": (_add_date, 3),
}
