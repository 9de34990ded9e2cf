"""confd's template functions, with confd's names and Go's semantics, for both template engines.

confd hands Go functions (strings.Split, path.Base, strconv.Atoi, ...) straight to its templates, so
the exact Go behaviour is what users' templates depend on: Go's argument order, byte lengths, simple
Unicode case mapping, int64 arithmetic. Arguments are type-checked as Go's template engine would and a
wrong one is a TemplateError naming the function, so a mistake is reported instead of rendering junk.

Where confd is weak confpy does better: `reverse` reverses any list (confd silently returns
anything but []string and []KVPair unchanged), and fileExists is false for a path below a regular
file. A string holds Go's bytes that are not UTF-8 as surrogate escapes (as Python's
"surrogateescape" does), so base64Decode of binary data writes those bytes, as confd's does.

This module holds the pure functions and the map; the DNS and file-system ones are in
confpy.engines.lookups, Go's JSON and strconv rules in confpy._go (encjson imported by json and
jsonArray, the only functions that use it); the store functions (getv, gets, ls, ...) are the
KeyStore's own methods.
"""

from __future__ import annotations

import base64
import datetime as _datetime
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from confpy._go.path import path_base, path_dir
from confpy._go.strconv import (
    INT64_MAX,
    INT64_MIN,
    UINT64_MAX,
    NumError,
    atoi,
    byte_len,
    go_bytes,
    go_string,
    parse_bool,
)
from confpy.engines.lookups import LOOKUPS
from confpy.errors import FunctionError, TemplateError
from confpy.store import KeyStore, KVPair, string_argument

__all__ = ["FILTER_NAMES", "PURE_FUNCTIONS", "SEQ_LIMIT", "create_map", "make_functions", "store_functions"]

#: seq makes at most this many numbers: confd's Seq appends until Go runs out of memory.
SEQ_LIMIT = 1_000_000


def _type_name(value: object) -> str:
    return type(value).__name__


_str = string_argument


def _int(func: str, position: int, value: object) -> int:
    """An int argument as Go's template engine accepts one: not a bool, a float or a numeric string."""
    if isinstance(value, bool) or not isinstance(value, int):
        hint = " (convert it with atoi)" if isinstance(value, str) else ""
        if isinstance(value, float):
            hint = " (JSON numbers are floats; convert it with |int)"
        raise TemplateError(
            f"{func}: argument {position} must be an integer, got {_type_name(value)} {value!r}{hint}"
        )
    if not INT64_MIN <= value <= INT64_MAX:
        raise TemplateError(f"{func}: argument {position} ({value}) overflows a 64-bit int")
    return value


def _list(func: str, value: object, of: str) -> list[Any]:
    """A list argument; any other iterable but a string or a mapping (a Jinja generator) is listed."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise TemplateError(f"{func}: expected a list of {of}, got {_type_name(value)} {value!r}")
    return list(value)


def _str_list(func: str, value: object) -> list[str]:
    items = _list(func, value, "strings")
    for item in items:
        if not isinstance(item, str):
            raise TemplateError(
                f"{func}: expected a list of strings, but it holds {_type_name(item)} {item!r}"
            )
    return items


def _wrap(value: int) -> int:
    """Go's int64 overflow: wrap around."""
    return ((value - INT64_MIN) & UINT64_MAX) + INT64_MIN


# --- strings and paths -------------------------------------------------------------------------


def _base(path: object) -> str:
    return path_base(path if type(path) is str else _str("base", 1, path))


def _dir(path: object) -> str:
    return path_dir(_str("dir", 1, path))


def _split(s: object, sep: object) -> list[str]:
    """Go's strings.Split: an empty separator splits after each character ("" gives [])."""
    s, sep = _str("split", 1, s), _str("split", 2, sep)
    if sep == "":
        return list(s)
    raw = _bytes_of(s, sep)
    return s.split(sep) if raw is None else [go_string(part) for part in raw[0].split(raw[1])]


def _join(elems: object, sep: object = "") -> str:
    return _str("join", 2, sep).join(_str_list("join", elems))


def _upper_char(c: str) -> str:
    """Go's unicode.ToUpper (simple mapping): one character in, one out ("ß" stays "ß")."""
    upper = c.upper()
    if len(upper) == 1:
        return upper
    title = c.title()  # the Greek letters with iota subscript: their simple uppercase is the titlecase
    return title if len(title) == 1 else c


def _lower_char(c: str) -> str:
    """Go's unicode.ToLower (simple mapping): "İ" is "i", and "Σ" is "σ" even at the end of a word."""
    lower = c.lower()
    return lower if len(lower) == 1 else lower[0]


_INVALID_BYTE = "[\udc80-\udcff]"  # compiled on first use: most templates call no function that needs it


def _to_upper(s: object) -> str:
    s = _str("toUpper", 1, s)
    return s.upper() if s.isascii() else "".join(map(_upper_char, _valid_runes(s)))


def _to_lower(s: object) -> str:
    s = _str("toLower", 1, s)
    return s.lower() if s.isascii() else "".join(map(_lower_char, _valid_runes(s)))


def _valid_runes(s: str) -> str:
    """strings.Map's input: a byte that is not UTF-8 (a Go template's, surrogate-escaped) is U+FFFD."""
    return re.sub(_INVALID_BYTE, "\ufffd", s)


def _bytes_of(*strings: str) -> list[bytes] | None:
    """The strings' Go bytes when one of them holds a raw byte (a part of a character, such as
    `slice "é" 0 1`), else None. Go's string functions search bytes and find such a part inside a
    whole character, which a search of characters cannot: the callers then search bytes too."""
    if all(t.isascii() for t in strings) or not any(re.search(_INVALID_BYTE, t) for t in strings):
        return None
    try:
        return [go_bytes(t) for t in strings]
    except UnicodeEncodeError:  # a lone surrogate that is no raw byte (a Jinja literal's)
        return None


def _contains(s: object, substr: object) -> bool:
    s, substr = _str("contains", 1, s), _str("contains", 2, substr)
    raw = _bytes_of(s, substr)
    return substr in s if raw is None else raw[1] in raw[0]


def _replace(s: object, old: object, new: object, n: object = -1) -> str:
    """Go's strings.Replace: at most n replacements, all if n < 0; an empty `old` matches between characters.

    `n` defaults to all, so `{{ s | replace("a", "b") }}` works as Jinja's own filter does.
    """
    s, old, new = _str("replace", 1, s), _str("replace", 2, old), _str("replace", 3, new)
    count = _int("replace", 4, n)
    raw = _bytes_of(s, old, new) if old else None  # an empty `old` matches between characters
    return s.replace(old, new, count) if raw is None else go_string(raw[0].replace(raw[1], raw[2], count))


def _trim_suffix(s: object, suffix: object) -> str:
    s, suffix = _str("trimSuffix", 1, s), _str("trimSuffix", 2, suffix)
    raw = _bytes_of(s, suffix)
    return s.removesuffix(suffix) if raw is None else go_string(raw[0].removesuffix(raw[1]))


# --- data --------------------------------------------------------------------------------------


_JSON_KINDS = {dict: "an object", list: "an array", str: "a string", float: "a number", bool: "a boolean"}


def _decode_json(func: str, data: object, want: type) -> Any:
    """encoding/json into interface{}: numbers are floats; `null` is an empty (nil) object or array."""
    from confpy._go import encjson

    text = _str(func, 1, data)
    shown = text if len(text) <= 60 else text[:57] + "..."
    try:
        value = encjson.loads(text)
    except ValueError as exc:
        raise FunctionError(
            f"{func}: invalid JSON {shown!r}: {exc}", encjson.go_error(text, exc, want)
        ) from None
    except RecursionError:
        raise TemplateError(f"{func}: invalid JSON {shown!r}: nested too deeply") from None
    if value is None:
        return want()
    if not isinstance(value, want):
        raise FunctionError(
            f"{func}: expected {_JSON_KINDS[want]}, got {_JSON_KINDS[type(value)]} in {shown!r}"
            + (f" (use {'jsonArray' if want is dict else 'json'})" if isinstance(value, dict | list) else ""),
            encjson.type_error(encjson.KINDS[type(value)], want),
        )
    return value


def _json_object(data: object) -> dict[str, Any]:
    result: dict[str, Any] = _decode_json("json", data, dict)
    return result


def _json_array(data: object) -> list[Any]:
    result: list[Any] = _decode_json("jsonArray", data, list)
    return result


def _map(*values: object) -> dict[str, Any]:
    """confd's CreateMap: key, value, key, value, ..."""
    return create_map("map", values)


def create_map(func: str, values: tuple[object, ...]) -> dict[str, Any]:
    """CreateMap under the name `func` calls it by (confd's `map`, the fork's `dict`)."""
    if len(values) % 2:
        raise FunctionError(
            f"{func}: invalid map call: {len(values)} arguments; expected key, value pairs (an even number)",
            "invalid map call",
        )
    result: dict[str, Any] = {}
    for i in range(0, len(values), 2):
        key = values[i]
        if not isinstance(key, str):
            raise FunctionError(
                f"{func}: map keys must be strings, argument {i + 1} is {_type_name(key)} {key!r}",
                "map keys must be strings",
            )
        result[key] = values[i + 1]
    return result


def _now() -> _datetime.datetime:
    """time.Now(): the current time in the local zone."""
    return _datetime.datetime.now().astimezone()


def _getenv(key: object, *default: object) -> str:
    """confd's Getenv: an unset or empty variable gives the first default, or ""."""
    value = os.environ.get(_str("getenv", 1, key), "")
    if value:
        return value
    return _str("getenv", 2, default[0]) if default else ""


def _base64_encode(data: object) -> str:
    return base64.b64encode(go_bytes(_str("base64Encode", 1, data))).decode("ascii")


_BASE64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _base64_corrupt_at(data: bytes) -> int | None:
    """The byte offset Go's base64.StdEncoding.DecodeString reports as illegal (decodeQuantum), or None.

    Go reads quanta of four symbols, skipping newlines; `=` may end a quantum only after two or
    three symbols, and nothing but newlines may follow the padding.
    """
    si, n = 0, len(data)
    while True:
        j = 0
        while j < 4:
            if si == n:
                return None if j == 0 else si - j
            c = data[si]
            si += 1
            if c in _BASE64_ALPHABET:
                j += 1
                continue
            if c in b"\r\n":
                continue
            if c != ord("=") or j < 2:
                return si - 1
            if j == 2:  # "==" expected; the first "=" is consumed
                while si < n and data[si] in b"\r\n":
                    si += 1
                if si == n:
                    return n
                if data[si] != ord("="):
                    return si - 1
                si += 1
            while si < n and data[si] in b"\r\n":
                si += 1
            return si if si < n else None


def _base64_decode(data: object) -> str:
    """base64.StdEncoding.DecodeString: padding required, newlines ignored; any bytes, as Go's string."""
    text = _str("base64Decode", 1, data)
    shown = text if len(text) <= 60 else text[:57] + "..."
    corrupt = _base64_corrupt_at(go_bytes(text))
    if corrupt is not None:
        raise FunctionError(
            f"base64Decode: illegal base64 data {shown!r} at input byte {corrupt}: expected standard base64 "
            "(A-Z a-z 0-9 + /, padded with = to a multiple of 4)",
            f"illegal base64 data at input byte {corrupt}",
        )
    return go_string(base64.b64decode(text.replace("\r", "").replace("\n", "")))


# --- conversions and lists ----------------------------------------------------------------------


def _parse_bool(s: object) -> bool:
    """strconv.ParseBool: exactly 1 t T TRUE true True and 0 f F FALSE false False."""
    try:
        return parse_bool(_str("parseBool", 1, s))
    except NumError as exc:
        raise TemplateError(str(exc)) from None


def _atoi(s: object) -> int:
    """strconv.Atoi: ASCII digits with an optional sign, nothing else, within int64."""
    try:
        return atoi(_str("atoi", 1, s))
    except NumError as exc:
        raise TemplateError(str(exc)) from None


def _reverse(values: object) -> Any:
    """A new list in reverse order, or a reversed string as Jinja's own `reverse` filter gives.

    confd reverses in place, and returns anything but []string and []KVPair unchanged.
    """
    if isinstance(values, str):
        return values[::-1]
    return _list("reverse", values, "values")[::-1]


def _sort_by_length(values: object) -> list[str]:
    """Strings by length in bytes, shortest first; equal lengths keep their order."""
    return sorted(_str_list("sortByLength", values), key=byte_len)


def _sort_kv_by_length(values: object) -> list[KVPair]:
    """KVPairs by the length of their key in bytes; equal lengths keep their order."""
    pairs = _list("sortKVByLength", values, "KVPairs")
    for item in pairs:
        if not isinstance(getattr(item, "Key", None), str):
            raise TemplateError(f"sortKVByLength: expected a list of KVPairs, but it holds {item!r}")
    return sorted(pairs, key=lambda pair: byte_len(pair.Key))


# --- arithmetic ----------------------------------------------------------------------------------


def _add(a: object, b: object) -> int:
    return _wrap(_int("add", 1, a) + _int("add", 2, b))


def _sub(a: object, b: object) -> int:
    return _wrap(_int("sub", 1, a) - _int("sub", 2, b))


def _mul(a: object, b: object) -> int:
    return _wrap(_int("mul", 1, a) * _int("mul", 2, b))


def _quotient(func: str, a: object, b: object) -> tuple[int, int, int]:
    """Go's truncated division: the quotient rounds toward zero, the remainder has the dividend's sign."""
    x, y = _int(func, 1, a), _int(func, 2, b)
    if y == 0:
        raise FunctionError(
            f"{func}: integer divide by zero ({func} {x} 0)", "runtime error: integer divide by zero"
        )
    q = abs(x) // abs(y)
    if (x < 0) != (y < 0):
        q = -q
    return x, y, q


def _div(a: object, b: object) -> int:
    _, _, q = _quotient("div", a, b)
    return _wrap(q)


def _mod(a: object, b: object) -> int:
    x, y, q = _quotient("mod", a, b)
    return x - y * q


def _seq(first: object, last: object) -> list[int]:
    """GNU seq: first..last inclusive; empty when first > last; at most SEQ_LIMIT numbers."""
    numbers = range(_int("seq", 1, first), _int("seq", 2, last) + 1)
    if len(numbers) > SEQ_LIMIT:
        detail = f"seq {first} {last} would make {len(numbers)} numbers; confpy makes at most {SEQ_LIMIT}"
        raise FunctionError(f"seq: {detail}", detail)
    return list(numbers)


#: confd's functions that read no store, built once (an engine may wrap some, once, too).
PURE_FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "base": _base,
    "dir": _dir,
    "split": _split,
    "join": _join,
    "json": _json_object,
    "jsonArray": _json_array,
    "map": _map,
    "datetime": _now,
    "toUpper": _to_upper,
    "toLower": _to_lower,
    "contains": _contains,
    "replace": _replace,
    "trimSuffix": _trim_suffix,
    **LOOKUPS,
    "base64Encode": _base64_encode,
    "base64Decode": _base64_decode,
    "parseBool": _parse_bool,
    "reverse": _reverse,
    "sortByLength": _sort_by_length,
    "sortKVByLength": _sort_kv_by_length,
    "add": _add,
    "sub": _sub,
    "mul": _mul,
    "div": _div,
    "mod": _mod,
    "seq": _seq,
    "atoi": _atoi,
    "getenv": _getenv,
}

FILTER_NAMES: frozenset[str] = frozenset(
    {
        "base",
        "dir",
        "split",
        "join",
        "json",
        "jsonArray",
        "toUpper",
        "toLower",
        "contains",
        "replace",
        "trimSuffix",
        "base64Encode",
        "base64Decode",
        "parseBool",
        "reverse",
        "sortByLength",
        "sortKVByLength",
        "atoi",
    }
)
"""Functions whose first argument reads naturally as a piped value: `{{ v | base64Decode }}`."""


def store_functions(store: KeyStore) -> dict[str, Callable[..., Any]]:
    """confd's seven functions that read the store, reading `store`."""
    return {
        "get": store.get,
        "gets": store.gets,
        "getv": store.getv,
        "getvs": store.getvs,
        "exists": store.exists,
        "ls": store.ls,
        "lsdir": store.lsdir,
    }


def make_functions(store: KeyStore) -> dict[str, Callable[..., Any]]:
    """confd's whole function map, with the store functions reading `store`: a call binds only
    those seven."""
    return {**PURE_FUNCTIONS, **store_functions(store)}
