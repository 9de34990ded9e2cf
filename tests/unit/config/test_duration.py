import pytest

from confpy.config.duration import format_duration, parse_duration
from confpy.errors import ConfigError


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30.0),
        (1.5, 1.5),
        ("45", 45.0),
        ("2s", 2.0),
        ("500ms", 0.5),
        ("1m30s", 90.0),
        ("1h", 3600.0),
        ("1.5s", 1.5),
        ("250us", 0.00025),
        ("0", 0.0),
    ],
)
def test_parses_go_durations_and_seconds(value: object, seconds: float) -> None:
    assert parse_duration(value, "x") == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["", "2 s", "2x", "s", "1m30", True, [1], "-1s", -3])
def test_rejects_with_the_setting_named(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^wait in a\.toml: "):
        parse_duration(value, "wait in a.toml")


def test_format() -> None:
    assert format_duration(30) == "30 s"
    assert format_duration(0.25) == "250 ms"
