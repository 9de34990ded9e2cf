"""confd's template functions, with confd's names and Go's semantics, for both template engines.

confd hands Go functions (strings.Split, path.Base, strconv.Atoi, ...) straight to its templates, so
the exact Go behaviour is what users' templates depend on: Go's argument order, byte lengths, simple
Unicode case mapping, int64 arithmetic. Arguments are type-checked as Go's template engine would and a
wrong one is a TemplateError naming the function, so a mistake is reported instead of rendering junk.

Where confd is weak confpy does better: `reverse` reverses any list (confd silently returns
anything but []string and []KVPair unchanged), and fileExists is false for a path below a regular
file. A string holds Go's bytes that are not UTF-8 as surrogate escapes (as Python's
"surrogateescape" does), so base64Decode of binary data writes those bytes, as confd's does.
"""

from __future__ import annotations

import base64
import datetime as _datetime
import importlib
import ipaddress
import json as _json
import os
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from confpy._go.path import path_base, path_dir
from confpy._go.strconv import NumError, atoi, parse_bool, parse_float
from confpy.errors import FunctionError, TemplateError
from confpy.store import KeyStore, KVPair, string_argument

__all__ = ["FILTER_NAMES", "SEQ_LIMIT", "SRV", "make_functions"]

_INT_MIN = -(1 << 63)
_INT_MAX = (1 << 63) - 1


class SRV(NamedTuple):
    """One SRV record; field names match Go's net.SRV so templates can say `.Target` and `.Port`."""

    Target: str
    Port: int
    Priority: int
    Weight: int


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
    if not _INT_MIN <= value <= _INT_MAX:
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
    return ((value - _INT_MIN) & 0xFFFF_FFFF_FFFF_FFFF) + _INT_MIN


# --- strings and paths -------------------------------------------------------------------------


def _base(path: object) -> str:
    return path_base(_str("base", 1, path))


def _dir(path: object) -> str:
    return path_dir(_str("dir", 1, path))


def _split(s: object, sep: object) -> list[str]:
    """Go's strings.Split: an empty separator splits after each character ("" gives [])."""
    s, sep = _str("split", 1, s), _str("split", 2, sep)
    if sep == "":
        return list(s)
    return s.split(sep)


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


_INVALID_BYTE = re.compile("[\udc80-\udcff]")


def _to_upper(s: object) -> str:
    s = _str("toUpper", 1, s)
    return s.upper() if s.isascii() else "".join(map(_upper_char, _valid_runes(s)))


def _to_lower(s: object) -> str:
    s = _str("toLower", 1, s)
    return s.lower() if s.isascii() else "".join(map(_lower_char, _valid_runes(s)))


def _valid_runes(s: str) -> str:
    """strings.Map's input: a byte that is not UTF-8 (a Go template's, surrogate-escaped) is U+FFFD."""
    return _INVALID_BYTE.sub("\ufffd", s)


def _contains(s: object, substr: object) -> bool:
    return _str("contains", 2, substr) in _str("contains", 1, s)


def _replace(s: object, old: object, new: object, n: object = -1) -> str:
    """Go's strings.Replace: at most n replacements, all if n < 0; an empty `old` matches between characters.

    `n` defaults to all, so `{{ s | replace("a", "b") }}` works as Jinja's own filter does.
    """
    return _str("replace", 1, s).replace(
        _str("replace", 2, old), _str("replace", 3, new), _int("replace", 4, n)
    )


def _trim_suffix(s: object, suffix: object) -> str:
    return _str("trimSuffix", 1, s).removesuffix(_str("trimSuffix", 2, suffix))


# --- data --------------------------------------------------------------------------------------


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_JSON_KINDS = {dict: "an object", list: "an array", str: "a string", float: "a number", bool: "a boolean"}
_GO_JSON_KINDS = {dict: "object", list: "array", str: "string", float: "number", bool: "bool"}
_GO_JSON_TYPES: dict[type, str] = {dict: "map[string]interface {}", list: "[]interface {}"}


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


class _OutOfRange(ValueError):
    def __init__(self, number: str) -> None:
        super().__init__(f"number {number} is out of range of a 64-bit float")
        self.number = number


def _go_float(text: str) -> float:
    """A JSON number as encoding/json's convertNumber reads it (strconv.ParseFloat(s, 64)): one too
    large for a float64 is an error, not infinity."""
    try:
        return parse_float(text)
    except NumError:
        raise _OutOfRange(text) from None


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
_C_ESCAPES = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v"}


def _quote_char(c: int) -> str:
    """encoding/json's quoteChar: the byte as the rune of that value, in Go's quoting."""
    if c == ord("'"):
        return "'\\''"
    if c in _C_ESCAPES:
        return f"'{_C_ESCAPES[c]}'"
    if c < 0x20 or c == 0x7F:
        return f"'\\x{c:02x}'"
    if 0x80 <= c < 0xA0 or c == 0xAD:
        return f"'\\u{c:04x}'"
    return f"'{chr(c)}'"


def _json_syntax_error(data: bytes) -> str | None:
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


def _decode_json(func: str, data: object, want: type) -> Any:
    """encoding/json into interface{}: numbers are floats; `null` is an empty (nil) object or array."""
    text = _str(func, 1, data)
    shown = text if len(text) <= 60 else text[:57] + "..."
    try:
        value = _json.loads(text, parse_int=_go_float, parse_float=_go_float, parse_constant=_reject_constant)
        if _SURROGATE_ESCAPE.search(text):
            value = _sanitize(value)
    except ValueError as exc:
        go_error = _json_syntax_error(text.encode("utf-8", "surrogateescape"))
        if go_error is None and isinstance(exc, _OutOfRange):  # valid JSON, a number beyond float64
            top = text.lstrip(" \t\r\n")[:1]
            if top not in ("n", "{" if want is dict else "["):  # Go stops at the top-level kind first
                kind = {"{": "object", "[": "array", '"': "string", "t": "bool", "f": "bool"}.get(
                    top, "number"
                )
                go_error = f"json: cannot unmarshal {kind} into Go value of type {_GO_JSON_TYPES[want]}"
            else:
                go_error = f"json: cannot unmarshal number {exc.number} into Go value of type float64"
        raise FunctionError(f"{func}: invalid JSON {shown!r}: {exc}", go_error or str(exc)) from None
    except RecursionError:
        raise TemplateError(f"{func}: invalid JSON {shown!r}: nested too deeply") from None
    if value is None:
        return want()
    if not isinstance(value, want):
        got = _JSON_KINDS[type(value)]
        go_kind = _GO_JSON_KINDS[type(value)]
        raise FunctionError(
            f"{func}: expected {_JSON_KINDS[want]}, got {got} in {shown!r}"
            + (f" (use {'jsonArray' if want is dict else 'json'})" if isinstance(value, dict | list) else ""),
            f"json: cannot unmarshal {go_kind} into Go value of type {_GO_JSON_TYPES[want]}",
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
    if len(values) % 2:
        raise FunctionError(
            f"map: invalid map call: {len(values)} arguments; expected key, value pairs (an even number)",
            "invalid map call",
        )
    result: dict[str, Any] = {}
    for i in range(0, len(values), 2):
        key = values[i]
        if not isinstance(key, str):
            raise FunctionError(
                f"map: map keys must be strings, argument {i + 1} is {_type_name(key)} {key!r}",
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


# --- network and files ---------------------------------------------------------------------------


def _lookup_ip(name: object) -> list[str]:
    """net.LookupIP, as strings sorted as text; any failure gives [] as in confd."""
    host = _str("lookupIP", 1, name)
    if host == "" or "\x00" in host:
        return []
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    addresses: set[str] = set()
    for _family, _type, _proto, _canonname, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # Go prints an IPv4-mapped address as plain IPv4
        addresses.add(str(ip))
    return sorted(addresses)


def _lookup_ipv4(name: object) -> list[str]:
    return [ip for ip in _lookup_ip(name) if "." in ip]


def _lookup_ipv6(name: object) -> list[str]:
    return [ip for ip in _lookup_ip(name) if ":" in ip]


def _srv_order(record: SRV) -> str:
    """confd sorts SRV records by the text Target+Port+Priority+Weight (so port 443 sorts before 80)."""
    return f"{record.Target}{record.Port}{record.Priority}{record.Weight}"


def _lookup_srv(service: object, proto: object, name: object) -> list[SRV]:
    """net.LookupSRV through dnspython (the stdlib has no SRV query); a failed query gives []."""
    service = _str("lookupSRV", 1, service)
    proto = _str("lookupSRV", 2, proto)
    name = _str("lookupSRV", 3, name)
    try:
        resolver = importlib.import_module("dns.resolver")
        dns_exception = importlib.import_module("dns.exception")
    except ImportError:
        raise TemplateError(
            "lookupSRV needs the dnspython package: install it (pip install dnspython) next to confpy"
        ) from None
    qname = name if service == "" and proto == "" else f"_{service}._{proto}.{name}"
    try:
        answer = resolver.resolve(qname, "SRV")
    except (dns_exception.DNSException, OSError, ValueError):
        return []
    records = [SRV(r.target.to_text(), int(r.port), int(r.priority), int(r.weight)) for r in answer]
    return sorted(records, key=_srv_order)


def _file_exists(path: object) -> bool:
    """confd's isFileExist: only "no such file" is false; a path it may not read still counts as there."""
    try:
        os.stat(_str("fileExists", 1, path))
    except PermissionError:
        return True
    except (OSError, ValueError):
        return False
    return True


def _base64_encode(data: object) -> str:
    return base64.b64encode(_str("base64Encode", 1, data).encode("utf-8", "surrogateescape")).decode("ascii")


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
    corrupt = _base64_corrupt_at(text.encode("utf-8", "surrogateescape"))
    if corrupt is not None:
        raise FunctionError(
            f"base64Decode: illegal base64 data {shown!r} at input byte {corrupt}: expected standard base64 "
            "(A-Z a-z 0-9 + /, padded with = to a multiple of 4)",
            f"illegal base64 data at input byte {corrupt}",
        )
    return base64.b64decode(text.replace("\r", "").replace("\n", "")).decode("utf-8", "surrogateescape")


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


def _byte_len(s: str) -> int:
    """Go's len(string): UTF-8 bytes, not characters."""
    return len(s) if s.isascii() else len(s.encode("utf-8", "surrogatepass"))


def _sort_by_length(values: object) -> list[str]:
    """Strings by length in bytes, shortest first; equal lengths keep their order."""
    return sorted(_str_list("sortByLength", values), key=_byte_len)


def _sort_kv_by_length(values: object) -> list[KVPair]:
    """KVPairs by the length of their key in bytes; equal lengths keep their order."""
    pairs = _list("sortKVByLength", values, "KVPairs")
    for item in pairs:
        if not isinstance(getattr(item, "Key", None), str):
            raise TemplateError(f"sortKVByLength: expected a list of KVPairs, but it holds {item!r}")
    return sorted(pairs, key=lambda pair: _byte_len(pair.Key))


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


_PURE: dict[str, Callable[..., Any]] = {
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
    "lookupIP": _lookup_ip,
    "lookupIPV4": _lookup_ipv4,
    "lookupIPV6": _lookup_ipv6,
    "lookupSRV": _lookup_srv,
    "fileExists": _file_exists,
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


def make_functions(store: KeyStore) -> dict[str, Callable[..., Any]]:
    """confd's whole function map, with the store functions reading `store`.

    The store-free functions are built once at import; each call only binds the seven store ones.
    """
    functions = dict(_PURE)
    functions["get"] = store.get
    functions["gets"] = store.gets
    functions["getv"] = store.getv
    functions["getvs"] = store.getvs
    functions["exists"] = store.exists
    functions["ls"] = store.ls
    functions["lsdir"] = store.lsdir
    return functions
