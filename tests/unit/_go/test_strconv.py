"""strconv's quoting, unquoting, number parsing and float formatting (expectations from Go 1.19)."""

from __future__ import annotations

import pytest

from confpy._go.strconv import (
    ERR_RANGE,
    ERR_SYNTAX,
    NumError,
    SyntaxErr,
    atoi,
    byte_len,
    can_backquote,
    format_float,
    go_concat,
    go_string,
    parse_bool,
    parse_float,
    parse_int,
    parse_uint,
    quote,
    quote_rune,
    unquote,
)


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
        (-0.0, "f", -1, "-0"),
        (0.1, "f", -1, "0.1"),
        (123456789.125, "f", -1, "123456789.125"),
        (1e21, "f", -1, "1000000000000000000000"),
        (1.5e-7, "f", -1, "0.00000015"),
        (5e-324, "e", -1, "5e-324"),
    ],
)
def test_format_float(value: float, verb: str, prec: int, want: str) -> None:
    assert format_float(value, verb, prec) == want


S, R = ERR_SYNTAX, ERR_RANGE


@pytest.mark.parametrize(
    ("s", "as_int", "as_uint", "as_atoi"),
    [
        ("0755", 493, 493, 755),
        ("08", S, S, 8),
        ("0o17", 15, 15, S),
        ("0X1f", 31, 31, S),
        ("-0b101", -5, S, S),
        ("0b", S, S, S),
        ("0x_1", 1, 1, S),
        ("0_7", 7, 7, S),
        ("1_000", 1000, 1000, S),
        ("_1", S, S, S),
        ("1__0", S, S, S),
        ("+5", 5, S, 5),
        ("-0", 0, S, 0),
        ("+", S, S, S),
        ("9223372036854775807", 2**63 - 1, 2**63 - 1, 2**63 - 1),
        ("9223372036854775808", R, 2**63, R),
        ("-9223372036854775808", -(2**63), S, -(2**63)),
        ("-9223372036854775809", R, S, R),
        ("18446744073709551616", R, R, R),
        ("+18446744073709551615", R, S, R),
        ("99999999999999999999x", R, R, R),  # the overflow is seen before the bad digit
        (" 1", S, S, S),
        ("\u0661", S, S, S),
    ],
)
def test_parse_integers(s: str, as_int: int | str, as_uint: int | str, as_atoi: int | str) -> None:
    for parse, func, want in (
        (parse_int, "ParseInt", as_int),
        (parse_uint, "ParseUint", as_uint),
        (atoi, "Atoi", as_atoi),
    ):
        if isinstance(want, int):
            assert parse(s) == want
        else:
            with pytest.raises(NumError) as info:
                parse(s)
            assert (info.value.func, info.value.num, info.value.err) == (func, s, want)
            assert str(info.value) == f"strconv.{func}: parsing {quote(s)}: {want}"


@pytest.mark.parametrize(
    ("s", "want"),
    [
        ("5.", "5"),
        ("1.e5", "100000"),
        ("1e1_0", "1e+10"),
        ("1_0.5e1_0", "1.05e+11"),
        (".5_0", "0.5"),
        ("1e-400", "0"),
        ("0x1.8p1", "3"),
        ("0x_1p1", "2"),
        ("0x1F.8p0", "31.5"),
        ("infinity", "+Inf"),
        ("-Infinity", "-Inf"),
        ("NaN", "NaN"),
        ("99999999999999999999999", "1e+23"),
        (".", S),
        ("1e_5", S),
        ("1_.5", S),
        ("1._5", S),
        ("0x1", S),
        ("0x1p", S),
        ("0b101", S),
        ("infin", S),
        ("-nan", S),
        ("1 ", S),
        ("1e400", R),
        ("-1e400", R),
        ("0x1p2000", R),
    ],
)
def test_parse_float(s: str, want: str) -> None:
    if want in (S, R):
        with pytest.raises(NumError) as info:
            parse_float(s)
        assert (str(info.value), info.value.err) == (f"strconv.ParseFloat: parsing {quote(s)}: {want}", want)
    else:
        assert format_float(parse_float(s), "g", -1) == want


def test_parse_bool() -> None:
    assert [parse_bool(s) for s in ("1", "t", "TRUE", "True", "0", "f", "FALSE", "False")] == [True] * 4 + [
        False
    ] * 4
    with pytest.raises(NumError, match=r'strconv\.ParseBool: parsing "tRue": invalid syntax'):
        parse_bool("tRue")


def test_byte_len_is_gos_len() -> None:
    raw = b"\xff".decode("utf-8", "surrogateescape")
    assert [byte_len(s) for s in ("abc", "é", "😀", raw, "é" + raw)] == [3, 2, 4, 1, 3]
    assert byte_len("\ud800") == 3  # no Go string holds it; U+FFFD's length


def test_go_concat_puts_raw_bytes_that_meet_back_together() -> None:
    """Two raw bytes that form UTF-8 are that character; raw bytes that do not stay raw; ASCII and
    a lone surrogate no Go string holds (a Jinja literal's) come back as they are."""
    assert go_concat(go_string(b"\xc3") + go_string(b"\xa9")) == "é"
    assert go_concat(go_string(b"\xc3") + "x") == "\udcc3x"
    assert go_concat("plain") == "plain"
    assert go_concat("\ud800é") == "\ud800é"
