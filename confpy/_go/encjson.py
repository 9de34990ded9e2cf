"""Go's encoding/json decoding into interface{}, as confd's `json` and `jsonArray` functions use it.

`loads` reads numbers as Go does (every one a float64 through strconv.ParseFloat; one beyond
float64 is OutOfRange, not infinity) and turns an unpaired surrogate escape into U+FFFD as Go
does. `syntax_error` is Go's scanner: the SyntaxError text Go reports for invalid JSON, word for
word; `go_error` and `type_error` the error json.Unmarshal returns. `dumps` is json.Marshal and
json.MarshalIndent, for the fork's toJson and toPrettyJson. Errors are ValueErrors; the template
functions turn them into their own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from confpy._go.strconv import NumError, format_float, go_bytes, parse_float, quote

__all__ = [
    "KINDS",
    "OutOfRange",
    "UnsupportedValue",
    "dumps",
    "encode_string",
    "go_error",
    "loads",
    "syntax_error",
    "type_error",
]

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


class OutOfRange(ValueError):
    """A valid JSON number beyond float64: Go's UnmarshalTypeError for `number N`."""

    def __init__(self, number: str) -> None:
        super().__init__(f"number {number} is out of range of a 64-bit float")
        self.number = number


def _go_float(text: str) -> float:
    """A JSON number as encoding/json's convertNumber reads it (strconv.ParseFloat(s, 64)): one too
    large for a float64 is an error, not infinity."""
    try:
        return parse_float(text)
    except NumError:
        raise OutOfRange(text) from None


def _sanitize(value: Any) -> Any:
    """Go decodes an unpaired \\uD800-style escape as U+FFFD; Python would keep an unwritable surrogate."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_sanitize(v) for v in value]
    if isinstance(value, dict):
        return {_sanitize(k): _sanitize(v) for k, v in value.items()}
    return value


_JSON_SPACE = b" \t\r\n"
_JSON_ESCAPES = frozenset(b'bfnrt\\/"')
_HEX = frozenset(b"0123456789abcdefABCDEF")
_DIGITS = frozenset(b"0123456789")


def _quote_char(c: int) -> str:
    """encoding/json's quoteChar: the byte as a Go character literal (strconv.Quote of the rune of
    that value), with `'` as '\\'' and `"` as '"'."""
    if c == ord("'"):
        return "'\\''"
    if c == ord('"'):
        return "'\"'"
    return "'" + quote(chr(c))[1:-1] + "'"


def syntax_error(data: bytes) -> str | None:
    """The SyntaxError Go's encoding/json scanner (scanner.go, checkValid) reports first, or None.

    A port of its state machine over bytes: a stack of open objects and arrays, and what may
    come next at each byte; the messages are Go's, word for word.
    """
    stack: list[str] = []  # "key", "value" (in an object), "array"
    i, n = 0, len(data)

    def bad(at: int, context: str) -> str:
        """The error at byte `at`; at the end of input Go's eof() feeds the scanner a space."""
        return f"invalid character {_quote_char(data[at] if at < n else 0x20)} {context}"

    def skip_space(at: int) -> int:
        while at < n and data[at] in _JSON_SPACE:
            at += 1
        return at

    while True:
        # a value begins here (stateBeginValue)
        i = skip_space(i)
        if i == n:
            return "unexpected end of JSON input"
        c = data[i]
        if c in b"{[":
            if len(stack) >= 10000:
                return bad(i, "exceeded max depth")
            i = skip_space(i + 1)
            if c == ord("{"):
                if i < n and data[i] == ord("}"):
                    i += 1
                else:
                    if i == n:
                        return "unexpected end of JSON input"
                    if data[i] != ord('"'):
                        return bad(i, "looking for beginning of object key string")
                    stack.append("key")
                    continue
            elif i < n and data[i] == ord("]"):
                i += 1
            else:
                stack.append("array")
                continue
        elif c == ord('"'):
            i += 1
            while True:
                if i == n:
                    return "unexpected end of JSON input"
                c = data[i]
                if c == ord('"'):
                    i += 1
                    break
                if c == ord("\\"):
                    i += 1
                    if i == n:
                        return bad(i, "in string escape code")
                    if data[i] == ord("u"):
                        for _ in range(4):
                            i += 1
                            if i == n or data[i] not in _HEX:
                                return bad(i, "in \\u hexadecimal character escape")
                    elif data[i] not in _JSON_ESCAPES:
                        return bad(i, "in string escape code")
                elif c < 0x20:
                    return bad(i, "in string literal")
                i += 1
        elif c == ord("-") or c in _DIGITS:
            if c == ord("-"):
                i += 1
                if i == n or data[i] not in _DIGITS:
                    return bad(i, "in numeric literal")
            if data[i] == ord("0"):
                i += 1
            else:
                while i < n and data[i] in _DIGITS:
                    i += 1
            if i < n and data[i] == ord("."):
                i += 1
                if i == n or data[i] not in _DIGITS:
                    return bad(i, "after decimal point in numeric literal")
                while i < n and data[i] in _DIGITS:
                    i += 1
            if i < n and data[i] in b"eE":
                i += 1
                if i < n and data[i] in b"+-":
                    i += 1
                if i == n or data[i] not in _DIGITS:
                    return bad(i, "in exponent of numeric literal")
                while i < n and data[i] in _DIGITS:
                    i += 1
        elif c in b"tfn":
            word = {ord("t"): b"true", ord("f"): b"false", ord("n"): b"null"}[c]
            for expected in word[1:]:
                i += 1
                if i == n or data[i] != expected:
                    return bad(i, f"in literal {word.decode()} (expecting {chr(expected)!r})")
            i += 1
        else:
            return bad(i, "looking for beginning of value")
        # a value ended (stateEndValue): close what it completes
        while True:
            i = skip_space(i)
            if not stack:
                return bad(i, "after top-level value") if i < n else None
            if i == n:
                return "unexpected end of JSON input"
            c, top = data[i], stack[-1]
            if top == "key":
                if c != ord(":"):
                    return bad(i, "after object key")
                stack[-1] = "value"
                i += 1
                break
            if c == ord(","):
                i += 1
                if top == "value":
                    stack[-1] = "key"
                    i = skip_space(i)
                    if i == n:
                        return "unexpected end of JSON input"
                    if data[i] != ord('"'):
                        return bad(i, "looking for beginning of object key string")
                break
            if c == ord("}" if top == "value" else "]"):
                stack.pop()
                i += 1
                continue
            return bad(i, "after object key:value pair" if top == "value" else "after array element")


def loads(text: str) -> Any:
    """json.Unmarshal into interface{}: ValueError (json's, or OutOfRange) if it is not valid JSON
    or holds a number beyond float64; RecursionError if nested too deeply for Python."""
    value = json.loads(text, parse_int=_go_float, parse_float=_go_float, parse_constant=_reject_constant)
    return _sanitize(value) if _SURROGATE_ESCAPE.search(text) else value


#: The JSON kind of a decoded value, as Go's UnmarshalTypeError names it.
KINDS: dict[type, str] = {dict: "object", list: "array", str: "string", float: "number", bool: "bool"}
_GO_TYPES: dict[type, str] = {dict: "map[string]interface {}", list: "[]interface {}"}


def type_error(kind: str, want: type) -> str:
    """json.Unmarshal's UnmarshalTypeError for a `kind` value into a map (want dict) or slice (list)."""
    return f"json: cannot unmarshal {kind} into Go value of type {_GO_TYPES[want]}"


def go_error(text: str, exc: ValueError, want: type) -> str:
    """The error json.Unmarshal(text, &v) returns, v a map (want dict) or a slice (list), for a text
    `loads` refused with `exc`: the scanner's SyntaxError; for valid JSON with a number beyond
    float64, the type error Go meets first (it checks the top-level kind before any number)."""
    syntax = syntax_error(go_bytes(text))
    if syntax is not None or not isinstance(exc, OutOfRange):
        return syntax or str(exc)
    top = text.lstrip(" \t\r\n")[:1]
    if top in ("n", "{" if want is dict else "["):
        return f"json: cannot unmarshal number {exc.number} into Go value of type float64"
    return type_error(
        {"{": "object", "[": "array", '"': "string", "t": "bool", "f": "bool"}.get(top, "number"), want
    )


# --- encoding: json.Marshal and json.MarshalIndent ---------------------------------------------

_HTML_SAFE_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f<>&\u2028\u2029\udc80-\udcff]')


class UnsupportedValue(ValueError):
    """A value json.Marshal refuses (NaN, an infinity, a type it cannot encode); str() is Go's error."""


def _escape(match: re.Match[str]) -> str:
    c = match.group(0)
    if c in _HTML_SAFE_ESCAPES:
        return _HTML_SAFE_ESCAPES[c]
    if "\udc80" <= c <= "\udcff":  # a byte that is not UTF-8: Go writes U+FFFD
        return "\\ufffd"
    return f"\\u{ord(c):04x}"


def encode_string(s: str) -> str:
    """encodeState.string with HTML escaping (Marshal's default): <, >, & and U+2028/9 as \\u,
    \\b and \\f short (Go 1.22 and later), other control characters as \\u00XX."""
    return '"' + _NEEDS_ESCAPE.sub(_escape, s) + '"'


def _float(v: float) -> str:
    """floatEncoder: shortest digits, 'f' form unless the magnitude is below 1e-6 or from 1e21 up."""
    if v != v or v in (float("inf"), float("-inf")):
        raise UnsupportedValue(f"json: unsupported value: {format_float(v, 'g', -1)}")
    magnitude = abs(v)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        text = format_float(v, "e", -1)
        return re.sub(r"e-0(\d)$", r"e-\1", text)
    return format_float(v, "f", -1)


def dumps(value: Any, indent: bool = False, other: Callable[[Any], Any] | None = None) -> str:
    """json.Marshal of a Go value (json.MarshalIndent(v, "", "  ") with `indent`).

    Maps are objects with their keys in Go's byte order, structs (NamedTuples) objects in field
    order, nil (None, or a value whose `nil` is true) null. `other` turns a value of any other type
    into one of these (the caller's own types), or raises UnsupportedValue.
    """
    out: list[str] = []
    _encode(value, out, "\n" if indent else "", other)
    return "".join(out)


def _encode(value: Any, out: list[str], newline: str, other: Callable[[Any], Any] | None) -> None:
    if value is None or getattr(value, "nil", False) is True:
        out.append("null")
    elif isinstance(value, str):
        out.append(encode_string(value))
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, dict):
        items = sorted(((_key(k), v) for k, v in value.items()), key=lambda kv: go_bytes(kv[0]))
        _members([(encode_string(k), v) for k, v in items], "{}", out, newline, other)
    elif isinstance(value, tuple) and hasattr(value, "_fields"):  # a Go struct: fields in order
        _members([(encode_string(f), getattr(value, f)) for f in value._fields], "{}", out, newline, other)
    elif isinstance(value, list | tuple):
        _members([(None, v) for v in value], "[]", out, newline, other)
    elif other is not None:
        _encode(other(value), out, newline, other)
    else:
        raise UnsupportedValue(f"json: unsupported type: {type(value).__name__}")


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, int) and not isinstance(key, bool):  # Go writes an integer key as its digits
        return str(key)
    raise UnsupportedValue(f"json: unsupported type: map with {type(key).__name__} keys")


def _members(
    members: list[tuple[str | None, Any]],
    brackets: str,
    out: list[str],
    newline: str,
    other: Callable[[Any], Any] | None,
) -> None:
    """An object's or array's members; with `newline` as json.Indent lays them out (`{}` stays)."""
    if not members:
        out.append(brackets)
        return
    inner = newline + "  " if newline else ""
    out.append(brackets[0])
    for i, (name, member) in enumerate(members):
        out.append(("," if i else "") + inner)
        if name is not None:
            out.append(name + (": " if newline else ":"))
        _encode(member, out, inner, other)
    out.append(newline + brackets[1])
