"""JSON numbers print in Jinja as confd (Go's fmt %v of a float64) prints them, and stay floats."""

from __future__ import annotations

import math

import pytest

from confpy.engines.jsonnumber import JsonNumber, json_numbers


@pytest.mark.parametrize(
    ("value", "go"),
    [
        # fmt %v of a float64: strconv.FormatFloat(f, 'g', -1, 64), %e below 1e-4 and from 1e6 on
        (5432.0, "5432"),
        (-12.0, "-12"),
        (2.5, "2.5"),
        (0.1, "0.1"),
        (-0.0, "-0"),
        (100000.0, "100000"),
        (1e6, "1e+06"),
        (123456789.0, "1.23456789e+08"),
        (1e21, "1e+21"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
    ],
)
def test_prints_as_go_prints_a_float64(value: float, go: str) -> None:
    number = JsonNumber(value)
    assert (str(number), repr(number), format(number), f"{number}") == (go, go, go, go)


def test_stays_a_float_for_arithmetic_comparison_and_formatting() -> None:
    port = JsonNumber(5432.0)
    assert isinstance(port, float) and port == 5432 and port > 5000 and port < 5432.5
    assert (str(port + 1), str(1 + port), str(port - 2), str(port * 2), str(2 * port)) == (
        "5433",
        "5433",
        "5430",
        "10864",
        "10864",
    )
    assert (str(port / 2), str(port // 5), str(port % 10), str(-port), str(abs(-port))) == (
        "2716",
        "1086",
        "2",
        "-5432",
        "5432",
    )
    assert str(port**2) == "2.9506624e+07" and str(2 ** JsonNumber(3.0)) == "8"
    assert type(port + 1) is JsonNumber and type(port + 0.5) is JsonNumber
    assert int(port) == 5432 and round(JsonNumber(2.6)) == 3 and math.floor(port) == 5432
    assert (
        type(round(port)) is int
        and str(round(port, 0)) == "5432"
        and str(round(JsonNumber(0.25), 1)) == "0.2"
    )
    assert f"{port:.2f}" == "5432.00" and "%d|%s" % (port, port) == "5432|5432"  # noqa: UP031 - what Jinja's |format does
    assert hash(port) == hash(5432) and {port: 1}[5432] == 1


def test_json_numbers_converts_nested_floats_only() -> None:
    got = json_numbers({"a": 1.0, "b": [2.0, "x", True, None, {"c": 3.5}]})
    assert got == {"a": 1.0, "b": [2.0, "x", True, None, {"c": 3.5}]}
    assert type(got["a"]) is JsonNumber and type(got["b"][4]["c"]) is JsonNumber
    assert got["b"][2] is True and got["b"][1] == "x"
