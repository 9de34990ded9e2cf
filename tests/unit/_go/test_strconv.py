"""strconv's quoting, unquoting and float formatting."""

from __future__ import annotations

import pytest

from confpy._go.strconv import SyntaxErr, can_backquote, format_float, quote, quote_rune, unquote


@pytest.mark.parametrize(
    ("s", "quoted"),
    [
        ("abc", '"abc"'),
        ('a"b\\c', '"a\\"b\\\\c"'),
        ("\a\b\f\n\r\t\v", '"\\a\\b\\f\\n\\r\\t\\v"'),
        ("\x00\x7f", '"\\x00\\x7f"'),
        ("héllo ☺", '"héllo ☺"'),
        ("\u2028\U000e0001", '"\\u2028\\U000e0001"'),
        (b"\xff".decode("utf-8", "surrogateescape"), '"\\xff"'),
    ],
)
def test_quote(s: str, quoted: str) -> None:
    assert quote(s) == quoted
    assert unquote(quoted) == s


def test_quote_ascii_and_runes() -> None:
    assert quote("héllo", ascii_only=True) == '"h\\u00e9llo"'
    assert quote_rune(ord("'")) == "'\\''"
    assert quote_rune(0x1F600, ascii_only=True) == "'\\U0001f600'"
    assert quote_rune(-1) == "'�'"


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ('"\\x41\\101\\u00e9\\U0001F600"', "AAé\U0001f600"),
        ('"\\xc3\\xa9"', "é"),
        ("`raw \\n\r`", "raw \\n"),
        ("'a'", "a"),
        ("'\\''", "'"),
    ],
)
def test_unquote(literal: str, value: str) -> None:
    assert unquote(literal) == value


@pytest.mark.parametrize(
    "literal", ['"\\q"', "\"'", '"a\nb"', "'ab'", "'\"'" + "x", '"\\"', "`a`b`", '"\\u12"', '"\\400"']
)
def test_unquote_rejects(literal: str) -> None:
    with pytest.raises(SyntaxErr, match="invalid syntax"):
        unquote(literal)


def test_can_backquote() -> None:
    assert can_backquote("plain \t text")
    assert not can_backquote("back`tick")
    assert not can_backquote("new\nline")


@pytest.mark.parametrize(
    ("value", "verb", "prec", "want"),
    [
        (1e6, "g", -1, "1e+06"),
        (123456.0, "g", -1, "123456"),
        (0.0001, "g", -1, "0.0001"),
        (0.00001, "g", -1, "1e-05"),
        (1.0, "g", 3, "1"),
        (1234.5678, "g", 3, "1.23e+03"),
        (2.5, "f", 0, "2"),
        (1.5, "e", -1, "1.5e+00"),
        (3.0, "x", -1, "0x1.8p+01"),
        (float("inf"), "f", 2, "+Inf"),
    ],
)
def test_format_float(value: float, verb: str, prec: int, want: str) -> None:
    assert format_float(value, verb, prec) == want
