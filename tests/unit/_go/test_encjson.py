"""encoding/json's decoding rules and its scanner's messages (expectations from Go 1.19)."""

from __future__ import annotations

import pytest

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
