"""encoding/json's decoding rules and its scanner's messages (expectations from Go 1.19)."""

from __future__ import annotations

import pytest

from confpy._go import encjson
from confpy._go.encjson import OutOfRange, loads, syntax_error


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\\", "invalid character '\\\\' looking for beginning of value"),
        (b"\xa0", "invalid character '\\u00a0' looking for beginning of value"),
        (b"\x7f", "invalid character '\\x7f' looking for beginning of value"),
        (b"\x80", "invalid character '\\u0080' looking for beginning of value"),
        (b"'", "invalid character '\\'' looking for beginning of value"),
        (b"\xad", "invalid character '\\u00ad' looking for beginning of value"),
        (b"\xe9", "invalid character '\xe9' looking for beginning of value"),
        (b"[1 \\]", "invalid character '\\\\' after array element"),
        (b"\x00", "invalid character '\\x00' looking for beginning of value"),
        (b'"', "unexpected end of JSON input"),
        (b'{"a": 1}', None),
    ],
)
def test_syntax_errors_are_gos(data: bytes, message: str | None) -> None:
    assert syntax_error(data) == message


def test_numbers_are_float64() -> None:
    assert loads('{"a": 1, "b": [2.5]}') == {"a": 1.0, "b": [2.5]}
    assert type(loads("[1]")[0]) is float
    with pytest.raises(OutOfRange, match="number 1e400 is out of range"):
        loads("[1e400]")
    assert loads('["\\ud800"]') == ["\ufffd"]


# --- dumps: json.Marshal and json.MarshalIndent --------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"b": 1, "a": [True, None, 2.5]}, '{"a":[true,null,2.5],"b":1}'),  # keys sorted
        ("<a&b>", '"\\u003ca\\u0026b\\u003e"'),  # HTML-safe, as Marshal escapes
        ("\u2028\u2029", '"\\u2028\\u2029"'),
        ('\b\f\x01\n\t"\\', '"\\b\\f\\u0001\\n\\t\\"\\\\"'),  # \b and \f short since Go 1.22
        ("\udcff", '"\\ufffd"'),  # a byte that is not UTF-8
        (1.0, "1"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (-0.0, "-0"),
        ({"é": 1, "z": 2}, '{"z":2,"é":1}'),  # byte order
        ({}, "{}"),
        ([], "[]"),
    ],
)
def test_dumps_as_go_marshals(value: object, text: str) -> None:
    assert encjson.dumps(value) == text


def test_dumps_indented_as_marshal_indent() -> None:
    assert (
        encjson.dumps({"a": [1, {}], "b": []}, indent=True)
        == '{\n  "a": [\n    1,\n    {}\n  ],\n  "b": []\n}'
    )


@pytest.mark.parametrize(("value", "error"), [(float("nan"), "NaN"), (float("inf"), "+Inf")])
def test_dumps_refuses_what_go_refuses(value: float, error: str) -> None:
    with pytest.raises(encjson.UnsupportedValue) as caught:
        encjson.dumps([value])
    assert str(caught.value) == f"json: unsupported value: {error}"
