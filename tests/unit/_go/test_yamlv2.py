"""yaml.v2's scalar resolution (resolve.go), as confd's file backend reads YAML."""

from __future__ import annotations

import math

import pytest

from confpy._go.yamlv2 import load_first, resolve_plain


def test_resolution() -> None:
    assert resolve_plain("n") is False
    assert resolve_plain("") is None
    assert resolve_plain("-0x10") == -16
    assert resolve_plain("1.5.5") == "1.5.5"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1_000", 1000),  # underscores are removed before ParseInt
        ("18446744073709551615", 2**64 - 1),  # ParseUint after ParseInt
        ("+18446744073709551615", 1.8446744073709552e19),  # ParseUint takes no sign: a float
        ("-9223372036854775809", -9.223372036854776e18),
        (".5_0", 0.5),  # a leading "." goes to ParseFloat as written
        ("0x1p-2", "0x1p-2"),  # ParseFloat would take it, but it is no YAML-style float
        ("1e400", "1e400"),  # out of range: text
        ("inf", "inf"),
        ("12:30", "12:30"),
    ],
)
def test_numbers(text: str, value: object) -> None:
    assert resolve_plain(text) == value


def test_specials_and_documents() -> None:
    assert math.isnan(float(str(resolve_plain(".NaN"))))
    assert resolve_plain("-.Inf") == -math.inf
    assert load_first("a: on\nb: '0755'\n") == {"a": True, "b": "0755"}
    assert load_first("") is None
