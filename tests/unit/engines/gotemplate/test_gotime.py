"""time.Time's layouts and methods: golden output from Go's time.Format."""

from __future__ import annotations

import datetime

import pytest

from confpy._go.strconv import unquote
from confpy.engines.gotemplate.gotime import METHODS, format_time, now, time_string
from tests.support.paths import GOTEMPLATE_DATA

CET = datetime.timezone(datetime.timedelta(hours=1), "CET")
TIMES = {
    "cet": datetime.datetime(2009, 11, 10, 23, 4, 5, 123456, tzinfo=CET),
    "utc": datetime.datetime(2024, 2, 3, 4, 5, 6, tzinfo=datetime.UTC),
}
GOLDEN = [
    tuple(line.split("\t"))
    for line in (GOTEMPLATE_DATA / "golden" / "time.tsv").read_text().splitlines()
    if not line.startswith("#")
]


@pytest.mark.parametrize(("zone", "layout", "want"), GOLDEN)
def test_format_matches_go(zone: str, layout: str, want: str) -> None:
    t = TIMES[zone]
    layout = unquote(layout)
    got = time_string(t) if layout == "String" else format_time(t, layout)
    assert got == unquote(want)


def test_methods() -> None:
    t = TIMES["cet"]

    def call(name: str, *args: object) -> object:
        impl, sig = METHODS[name]
        assert len(sig.params) == len(args)
        return impl(t, *args)

    assert call("Unix") == 1257890645
    assert call("UnixNano") == 1257890645123456000
    assert (call("Year"), call("Day"), call("Hour"), call("YearDay")) == (2009, 10, 23, 314)
    assert str(call("Month")) == "11" and call("Month").String() == "November"  # type: ignore[attr-defined]
    assert call("Weekday").String() == "Tuesday"  # type: ignore[attr-defined]
    assert time_string(call("UTC")) == "2009-11-10 22:04:05.123456 +0000 UTC"  # type: ignore[arg-type]
    assert format_time(call("AddDate", 0, 3, 25), "2006-01-02") == "2010-03-07"  # type: ignore[arg-type]
    assert call("Before", TIMES["utc"]) is True


@pytest.mark.parametrize(
    ("tz", "name"), [(None, "Local"), ("UTC", "UTC"), ("Europe/Paris", "Europe/Paris"), ("", "UTC")]
)
def test_local_is_named_as_go_names_it(tz: str | None, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """time.Local's name (zoneinfo_unix.go initLocal), as Go 1.19 printed {{datetime.Location}}."""
    if tz is None:
        monkeypatch.delenv("TZ", raising=False)
    else:
        monkeypatch.setenv("TZ", tz)
    impl, _ = METHODS["Location"]
    assert impl(now()).String() == name
    assert impl(METHODS["UTC"][0](now())).String() == "UTC"
