"""Go's time.Time as templates see it: a Python datetime with Go's methods and layouts.

confd's `datetime` is Go's time.Now; templates call `.Format "2006-01-02"`, `.Unix`, `.Year`...
`format()` ports time.Format's layout scanner (nextStdChunk) so Go's reference-time layouts work.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable
from typing import Any

from confpy._go.strconv import INT64_MAX, INT64_MIN, quote
from confpy.engines.gotemplate.gotypes import (
    BOOL,
    BYTE_SLICE,
    FLOAT64,
    INT,
    INT64,
    STRING,
    TIME,
    GoError,
    GoType,
    Signature,
    go_class,
)

__all__ = [
    "LOCAL",
    "METHODS",
    "UTC",
    "Duration",
    "Location",
    "Month",
    "Weekday",
    "format_time",
    "time_string",
]

MONTH = GoType("time.Month", "int", named=True, underlying=INT)
WEEKDAY = GoType("time.Weekday", "int", named=True, underlying=INT)
DURATION = GoType("time.Duration", "int", named=True, underlying=INT64)
LOCATION = GoType("*time.Location", "ptr")

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


@go_class
class Month(int):
    """time.Month: an int that prints as its English name."""

    go_type = MONTH

    def String(self) -> str:
        return _MONTHS[self - 1] if 1 <= self <= 12 else f"%!Month({int(self)})"


@go_class
class Weekday(int):
    """time.Weekday (Sunday = 0): an int that prints as its English name."""

    go_type = WEEKDAY

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


_NS = 1_000_000_000
_ZERO_TIME = datetime.datetime(1, 1, 1, tzinfo=datetime.UTC)


@go_class
class Duration(int):
    """time.Duration: nanoseconds, printed as Go prints them ("1h2m3.5s", "1.5µs")."""

    go_type = DURATION

    def String(self) -> str:
        u = abs(int(self))
        if u == 0:
            return "0s"
        if u < _NS:
            unit, prec = ("ns", 0) if u < 1000 else ("µs", 3) if u < 1_000_000 else ("ms", 6)
            text = _frac(u, prec) + unit
        else:
            seconds, minutes_left = _frac(u, 9), u // _NS // 60
            text = seconds + "s"
            if minutes_left:
                text = f"{minutes_left % 60}m" + text
                if minutes_left >= 60:
                    text = f"{minutes_left // 60}h" + text
        return "-" + text if self < 0 else text


def _frac(v: int, prec: int) -> str:
    """time.fmtFrac + fmtInt: v / 10**prec with the fraction's trailing zeros dropped (seconds mod 60)."""
    whole, frac = divmod(v, 10**prec)
    if prec == 9:
        whole %= 60
    digits = f"{frac:0{prec}d}".rstrip("0") if prec else ""
    return f"{whole}.{digits}" if digits else str(whole)


@go_class
class Location:
    """*time.Location: confd's templates see only Local (time.Now) and UTC."""

    go_type = LOCATION

    def __init__(self, name: str, tz: datetime.tzinfo | None) -> None:
        self.name = name
        self.tz = tz

    def String(self) -> str:
        return self.name


class _LocalZone(datetime.tzinfo):
    """The system's zone as time.Local is: a datetime in it knows it is local, not a fixed offset."""

    def _local_time(self, dt: datetime.datetime) -> time.struct_time:
        wall = (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.weekday(), 0, -1)
        return time.localtime(time.mktime(wall))

    def utcoffset(self, dt: datetime.datetime | None) -> datetime.timedelta:
        return datetime.timedelta(
            seconds=self._local_time(dt).tm_gmtoff if dt else time.localtime().tm_gmtoff
        )

    def dst(self, dt: datetime.datetime | None) -> datetime.timedelta:
        return datetime.timedelta(0)

    def tzname(self, dt: datetime.datetime | None) -> str:
        return (self._local_time(dt) if dt else time.localtime()).tm_zone

    def fromutc(self, dt: datetime.datetime) -> datetime.datetime:
        seconds = (dt.replace(tzinfo=None) - datetime.datetime(1970, 1, 1)) // datetime.timedelta(seconds=1)
        return dt + datetime.timedelta(seconds=time.localtime(seconds).tm_gmtoff)


LOCAL_ZONE = _LocalZone()
LOCAL = Location("Local", LOCAL_ZONE)
UTC = Location("UTC", datetime.UTC)


def now() -> datetime.datetime:
    """time.Now(): the current time in the Local location."""
    return datetime.datetime.now(LOCAL_ZONE)


def _local_name() -> str:
    """time.Local's name (zoneinfo_unix.go initLocal): "Local" from /etc/localtime, else $TZ's value."""
    tz = os.environ.get("TZ")
    return "Local" if tz is None else tz or "UTC"


def _location(dt: datetime.datetime) -> Location:
    if dt.tzinfo is LOCAL_ZONE:
        return LOCAL if LOCAL.name == _local_name() else Location(_local_name(), LOCAL_ZONE)
    if dt.tzinfo is datetime.UTC:
        return UTC
    return Location(dt.tzname() or "", dt.tzinfo)


def _in(dt: datetime.datetime, loc: Location | None) -> datetime.datetime:
    if loc is None:
        raise GoError("time: missing Location in call to Time.In")
    return dt.astimezone(loc.tz)


def _local(dt: datetime.datetime) -> datetime.datetime:
    return dt.astimezone(LOCAL_ZONE)


def _utc(dt: datetime.datetime) -> datetime.datetime:
    return dt.astimezone(datetime.UTC)


def _unix(dt: datetime.datetime) -> int:
    return int(dt.timestamp() // 1)


def _unix_nano(dt: datetime.datetime) -> int:
    return _unix(dt) * _NS + dt.microsecond * 1000


def _since_zero(dt: datetime.datetime) -> int:
    """Nanoseconds since Go's zero time, January 1, year 1, 00:00:00 UTC."""
    delta = dt - _ZERO_TIME
    return (delta.days * 86400 + delta.seconds) * _NS + delta.microseconds * 1000


def _plus(dt: datetime.datetime, ns: int) -> datetime.datetime:
    try:
        return dt + datetime.timedelta(microseconds=ns // 1000)
    except OverflowError:
        raise GoError(
            f"time {time_string(dt)} plus {Duration(ns).String()} is out of the supported range"
        ) from None


def _truncate(dt: datetime.datetime, d: int) -> datetime.datetime:
    """time.Time.Truncate: down to a multiple of d since the zero time; d <= 0 changes nothing."""
    return dt if d <= 0 else _plus(dt, -(_since_zero(dt) % d))


def _round(dt: datetime.datetime, d: int) -> datetime.datetime:
    """time.Time.Round: to the nearest multiple of d since the zero time, halfway up."""
    if d <= 0:
        return dt
    r = _since_zero(dt) % d
    return _plus(dt, -r) if r + r < d else _plus(dt, d - r)


def _sub(dt: datetime.datetime, u: datetime.datetime) -> Duration:
    """time.Time.Sub: saturates at the int64 bounds as Go does."""
    return Duration(min(max(_since_zero(dt) - _since_zero(u), INT64_MIN), INT64_MAX))


def _add_date(dt: datetime.datetime, years: int, months: int, days: int) -> datetime.datetime:
    """time.Time.AddDate: normalises overflowing months and days like Go."""
    month0 = dt.month - 1 + months
    year = dt.year + years + month0 // 12
    first = dt.replace(year=year, month=month0 % 12 + 1, day=1)
    return first + datetime.timedelta(days=dt.day - 1 + days)


def _is_dst(dt: datetime.datetime) -> bool:
    return dt.tzinfo is LOCAL_ZONE and time.localtime(dt.timestamp()).tm_isdst > 0


def go_string(dt: datetime.datetime) -> str:
    """time.Time.GoString, as %#v prints a time."""
    name = _location(dt).name
    loc = (
        "time.Local"
        if dt.tzinfo is LOCAL_ZONE
        else "time.UTC"
        if name == "UTC"
        else f"time.Location({quote(name)})"
    )
    return (
        f"time.Date({dt.year}, time.{_MONTHS[dt.month - 1]}, {dt.day}, {dt.hour}, {dt.minute}, "
        f"{dt.second}, {dt.microsecond * 1000}, {loc})"
    )


_RFC3339_NANO = "2006-01-02T15:04:05.999999999Z07:00"


def _marshal_text(dt: datetime.datetime, method: str = "MarshalText") -> list[int]:
    if not 0 <= dt.year <= 9999:
        raise GoError(f"Time.{method}: year outside of range [0,9999]")
    return list(format_time(dt, _RFC3339_NANO).encode())


def _marshal_json(dt: datetime.datetime) -> list[int]:
    return [ord('"'), *_marshal_text(dt, "MarshalJSON"), ord('"')]


def _marshal_binary(dt: datetime.datetime) -> list[int]:
    """time.Time.MarshalBinary (and GobEncode): version, seconds and nanoseconds since year 1, zone."""
    version, offset_min, offset_sec = 1, -1, 0
    if dt.tzinfo is not datetime.UTC:
        offset = _zone(dt)[1]
        if offset % 60:
            version, offset_sec = 2, offset % 60
        offset_min = offset // 60
    since = _since_zero(dt)
    sec, nsec = divmod(since, _NS)
    out = bytes([version]) + sec.to_bytes(8, "big") + nsec.to_bytes(4, "big")
    out += offset_min.to_bytes(2, "big", signed=True)
    return list(out + bytes([offset_sec]) if version == 2 else out)


def _method(result: GoType, *params: GoType, errors: bool = False, results: int | None = None) -> Signature:
    return Signature(params, result, errors=errors, results=results)


#: time.Time's exported value methods (Go 1.19): name -> (implementation, Go signature).
#: Those with two results that are not (T, error), or three, are listed so that calling them
#: fails as in Go ("can't call method/function ... with 2 results").
METHODS: dict[str, tuple[Callable[..., Any], Signature]] = {
    "Add": (lambda dt, d: _plus(dt, d), _method(TIME, DURATION)),
    "AddDate": (_add_date, _method(TIME, INT, INT, INT)),
    "After": (lambda dt, u: dt > u, _method(BOOL, TIME)),
    "AppendFormat": (
        lambda dt, b, layout: [*b, *format_time(dt, layout).encode()],
        _method(BYTE_SLICE, BYTE_SLICE, STRING),
    ),
    "Before": (lambda dt, u: dt < u, _method(BOOL, TIME)),
    "Clock": (lambda dt: None, _method(INT, results=3)),
    "Date": (lambda dt: None, _method(INT, results=3)),
    "Day": (lambda dt: dt.day, _method(INT)),
    "Equal": (lambda dt, u: dt == u, _method(BOOL, TIME)),
    "Format": (format_time, _method(STRING, STRING)),
    "GoString": (go_string, _method(STRING)),
    "GobEncode": (_marshal_binary, _method(BYTE_SLICE, errors=True)),
    "Hour": (lambda dt: dt.hour, _method(INT)),
    "ISOWeek": (lambda dt: None, _method(INT, results=2)),
    "In": (_in, _method(TIME, LOCATION)),
    "IsDST": (_is_dst, _method(BOOL)),
    "IsZero": (lambda dt: dt == _ZERO_TIME, _method(BOOL)),
    "Local": (_local, _method(TIME)),
    "Location": (_location, _method(LOCATION)),
    "MarshalBinary": (_marshal_binary, _method(BYTE_SLICE, errors=True)),
    "MarshalJSON": (_marshal_json, _method(BYTE_SLICE, errors=True)),
    "MarshalText": (_marshal_text, _method(BYTE_SLICE, errors=True)),
    "Minute": (lambda dt: dt.minute, _method(INT)),
    "Month": (lambda dt: Month(dt.month), _method(MONTH)),
    "Nanosecond": (lambda dt: dt.microsecond * 1000, _method(INT)),
    "Round": (_round, _method(TIME, DURATION)),
    "Second": (lambda dt: dt.second, _method(INT)),
    "String": (time_string, _method(STRING)),
    "Sub": (_sub, _method(DURATION, TIME)),
    "Truncate": (_truncate, _method(TIME, DURATION)),
    "UTC": (_utc, _method(TIME)),
    "Unix": (_unix, _method(INT64)),
    "UnixMicro": (lambda dt: _unix_nano(dt) // 1_000, _method(INT64)),
    "UnixMilli": (lambda dt: _unix_nano(dt) // 1_000_000, _method(INT64)),
    "UnixNano": (_unix_nano, _method(INT64)),
    "Weekday": (lambda dt: Weekday((dt.weekday() + 1) % 7), _method(WEEKDAY)),
    "Year": (lambda dt: dt.year, _method(INT)),
    "YearDay": (lambda dt: dt.timetuple().tm_yday, _method(INT)),
    "Zone": (lambda dt: None, _method(STRING, results=2)),
    "ZoneBounds": (lambda dt: None, _method(TIME, results=2)),
}


def _go_rem(d: int, m: int) -> int:
    """Go's d % m: the remainder has the dividend's sign."""
    r = abs(d) % abs(m)
    return -r if d < 0 else r


def _duration_round(d: int, m: int) -> Duration:
    """time.Duration.Round: halfway away from zero, saturating at the int64 bounds."""
    if m <= 0:
        return Duration(d)
    r = abs(_go_rem(d, m))
    if r + r < m:
        return Duration(d - r if d >= 0 else d + r)
    rounded = d + m - r if d >= 0 else d - m + r
    return Duration(min(max(rounded, INT64_MIN), INT64_MAX))


def _go_quo(d: int, m: int) -> int:
    """Go's d / m for m > 0: truncated toward zero."""
    q = abs(d) // m
    return -q if d < 0 else q


def _float_units(d: int, unit: int) -> float:
    """Duration.Hours/Minutes/Seconds: the whole units plus the fraction, as Go computes them."""
    return float(_go_quo(d, unit)) + float(_go_rem(d, unit)) / unit


def _duration_method(
    result: GoType, impl: Callable[..., Any], *params: GoType
) -> tuple[Callable[..., Any], Signature]:
    return impl, Signature(params, result)


TIME.methods.update(METHODS)
DURATION.methods.update(
    {
        "Abs": _duration_method(DURATION, lambda d: Duration(min(abs(d), INT64_MAX))),
        "Hours": _duration_method(FLOAT64, lambda d: _float_units(d, 3600 * _NS)),
        "Minutes": _duration_method(FLOAT64, lambda d: _float_units(d, 60 * _NS)),
        "Seconds": _duration_method(FLOAT64, lambda d: _float_units(d, _NS)),
        "Milliseconds": _duration_method(INT64, lambda d: _go_quo(d, 1_000_000)),
        "Microseconds": _duration_method(INT64, lambda d: _go_quo(d, 1000)),
        "Nanoseconds": _duration_method(INT64, int),
        "Round": _duration_method(DURATION, _duration_round, DURATION),
        "String": _duration_method(STRING, Duration.String),
        "Truncate": _duration_method(
            DURATION, lambda d, m: Duration(d if m <= 0 else d - _go_rem(d, m)), DURATION
        ),
    }
)
MONTH.methods["String"] = (Month.String, Signature((), STRING))
WEEKDAY.methods["String"] = (Weekday.String, Signature((), STRING))
LOCATION.methods["String"] = (Location.String, Signature((), STRING))
