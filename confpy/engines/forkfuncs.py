"""The maintained confd fork's template functions (abtreece/confd, pkg/template/utility_funcs.go
utilityFuncMap, and template_funcs.go newFuncMap's hostname and lookupIface*), with its semantics,
for both engines.

Each function names the fork's Go function it follows. As in confpy.engines.functions, arguments
are checked as Go's template engine checks them and a wrong one is a TemplateError naming the
function; the Go engine adds the Go signatures (confpy.engines.gotemplate.confd) and Go's nil
results. `include` renders a template, so each engine has its own (go.py, jinja.py); the
include rules they share (depth, cycles, the templates directory) are here.

Where the fork leaves a limit to Go's memory, confpy sets one (`repeat`: REPEAT_LIMIT bytes).
Go's JSON and regexp rules (confpy._go), hashlib and unicodedata are imported by the functions
that use them: a template that calls none of those does not pay for them.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sized
from pathlib import Path, PurePosixPath
from typing import Any

from confpy._go.strconv import byte_len, go_bytes, go_string, quote
from confpy.engines.functions import (
    _bytes_of,
    _int,
    _list,
    _lower_char,
    _str,
    _upper_char,
    _valid_runes,
    create_map,
)
from confpy.engines.lookups import FORK_LOOKUPS
from confpy.errors import FunctionError, TemplateError

__all__ = [
    "FORK_FILTER_NAMES",
    "FORK_FUNCTIONS",
    "INCLUDE_DEPTH",
    "REPEAT_LIMIT",
    "from_json",
    "include_path",
    "is_empty",
    "to_json",
]

#: repeat makes at most this many bytes: the fork's strings.Repeat allocates until Go runs out.
REPEAT_LIMIT = 64 * 1024 * 1024
#: include.go maxIncludeDepth: includes nested deeper than this are refused.
INCLUDE_DEPTH = 10


# --- defaults and conditionals -------------------------------------------------------------------


def is_empty(value: object) -> bool:
    """utility_funcs.go isEmpty: nil, false, 0, "", an empty map or list, a struct (a KVPair) whose
    fields are all zero; anything else (a time, a function) is not empty. A Jinja undefined is empty."""
    if value is None:
        return True
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value == 0
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a Go struct: reflect.Value.IsZero
        return all(is_empty(getattr(value, f)) for f in value._fields)
    if isinstance(value, Sized):
        return len(value) == 0
    return False


def _default(default: object, value: object) -> object:
    """dfault: `value` unless it is empty (is_empty), else `default`; Go's argument order, so that
    `{{ getv "/x" "" | default "none" }}` pipes the value in."""
    return default if is_empty(value) else value


def _ternary(true_value: object, false_value: object, condition: object) -> object:
    """ternary: the condition comes last, for `{{ $ok | ternary "on" "off" }}`."""
    if not isinstance(condition, bool):
        raise TemplateError(
            f"ternary: argument 3 must be a bool, got {type(condition).__name__} {condition!r}"
        )
    return true_value if condition else false_value


def _coalesce(*values: object) -> object:
    """coalesce: the first value that is not empty, else nil."""
    return next((v for v in values if not is_empty(v)), None)


# --- JSON ---------------------------------------------------------------------------------------


def _json_time(dt: datetime.datetime) -> str:
    """time.Time.MarshalJSON: RFC 3339 with the fraction's trailing zeros dropped, `Z` for UTC."""
    from confpy._go import encjson

    if not 0 <= dt.year <= 9999:
        detail = "Time.MarshalJSON: year outside of range [0,9999]"
        raise encjson.UnsupportedValue(f"json: error calling MarshalJSON for type time.Time: {detail}")
    text = f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    if dt.microsecond:
        text += f".{dt.microsecond:06d}".rstrip("0")
    offset = int(dt.utcoffset().total_seconds()) if dt.utcoffset() is not None else 0  # type: ignore[union-attr]
    if offset == 0:
        return text + "Z"
    sign, offset = ("-", -offset) if offset < 0 else ("+", offset)
    return f"{text}{sign}{offset // 3600:02d}:{offset % 3600 // 60:02d}"


def to_json(func: str, value: object, indent: bool, type_name: Callable[[Any], str] | None = None) -> str:
    """toJson (json.Marshal) and toPrettyJson (json.MarshalIndent, two spaces): map keys sorted,
    `<`, `>` and `&` escaped as \\u003c \\u003e \\u0026, a time as RFC 3339, as Go writes them;
    `type_name` names a type Go cannot encode as the engine names it."""
    from confpy._go import encjson

    def other(v: Any) -> Any:
        if isinstance(v, datetime.datetime):
            return _json_time(v)
        name = type_name(v) if type_name is not None else type(v).__name__
        raise encjson.UnsupportedValue(f"json: unsupported type: {name}")

    try:
        return encjson.dumps(value, indent, other)
    except encjson.UnsupportedValue as exc:
        raise FunctionError(f"{func}: {exc}", str(exc)) from None
    except RecursionError:
        raise TemplateError(f"{func}: the value is nested too deeply") from None


def from_json(text: object) -> Any:
    """fromJson: json.Unmarshal into interface{}: any JSON value, numbers as floats, null as nil."""
    from confpy._go import encjson

    text = _str("fromJson", 1, text)
    shown = text if len(text) <= 60 else text[:57] + "..."
    try:
        return encjson.loads(text)
    except encjson.OutOfRange as exc:
        error = f"json: cannot unmarshal number {exc.number} into Go value of type float64"
    except ValueError:
        error = encjson.syntax_error(go_bytes(text)) or "invalid JSON"
    except RecursionError:
        raise TemplateError(f"fromJson: invalid JSON {shown!r}: nested too deeply") from None
    raise FunctionError(f"fromJson: invalid JSON {shown!r}: {error}", error)


# --- formatting -----------------------------------------------------------------------------------


def _indent(spaces: object, s: object) -> str:
    """indent: every line of `s` after `spaces` spaces (none if negative); "" stays ""."""
    count, text = _int("indent", 1, spaces), _str("indent", 2, s)
    if text == "":
        return ""
    pad = " " * max(count, 0)
    return pad + text.replace("\n", "\n" + pad)


def _nindent(spaces: object, s: object) -> str:
    """nindent: a newline, then indent's result."""
    return "\n" + _indent(spaces, s)


def _quote(s: object) -> str:
    """quote: fmt.Sprintf("%q", s), a Go string literal (strconv.Quote)."""
    return quote(_str("quote", 1, s))


def _squote(s: object) -> str:
    """squote: single quotes, a single quote inside doubled (SQL style), nothing else escaped."""
    return "'" + _str("squote", 1, s).replace("'", "''") + "'"


# --- regular expressions (Go's RE2 syntax, confpy._go.regexp) ------------------------------------


def _regexp(func: str, pattern: object) -> Any:
    from confpy._go.regexp import RegexpError, compile_go

    text = _str(func, 1, pattern)
    try:
        return compile_go(text)
    except RegexpError as exc:
        raise FunctionError(f"{func}: {exc}", str(exc)) from None


def _regex_match(pattern: object, s: object) -> bool:
    """regexMatch: regexp.MatchString, the pattern found anywhere in `s`."""
    return _regexp("regexMatch", pattern).pattern.search(_str("regexMatch", 2, s)) is not None


def _regex_find(pattern: object, s: object) -> str:
    """regexFind: Regexp.FindString, the leftmost match or ""."""
    match = _regexp("regexFind", pattern).pattern.search(_str("regexFind", 2, s))
    return "" if match is None else match.group(0)


def _regex_replace_all(pattern: object, s: object, repl: object) -> str:
    """regexReplaceAll: Regexp.ReplaceAllString, `$1` and `${name}` in `repl` expanded."""
    from confpy._go.regexp import replace_all

    regexp = _regexp("regexReplaceAll", pattern)
    return replace_all(regexp, _str("regexReplaceAll", 2, s), _str("regexReplaceAll", 3, repl))


# --- strings ---------------------------------------------------------------------------------------


def _trim_prefix(s: object, prefix: object) -> str:
    """trimPrefix: strings.TrimPrefix(s, prefix), on bytes where a part of a character is in play."""
    s, prefix = _str("trimPrefix", 1, s), _str("trimPrefix", 2, prefix)
    raw = _bytes_of(s, prefix)
    return s.removeprefix(prefix) if raw is None else go_string(raw[0].removeprefix(raw[1]))


def _repeat(count: object, s: object) -> str:
    """repeat: `s` count times, "" for a count below one (count first, for `{{ "-" | repeat 3 }}`)."""
    times, text = _int("repeat", 1, count), _str("repeat", 2, s)
    if times <= 0:
        return ""
    if byte_len(text) * times > REPEAT_LIMIT:
        detail = f"repeat {times} of {byte_len(text)} bytes exceeds confpy's limit of {REPEAT_LIMIT} bytes"
        raise FunctionError(f"repeat: {detail}", detail)
    return text * times


#: unicode.IsSpace: Latin-1's spaces, and the rest of Unicode's White_Space property
_GO_SPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | frozenset(
    map(chr, range(0x2000, 0x200B))
)


def _nospace(s: object) -> str:
    """nospace: strings.Map dropping every unicode.IsSpace rune."""
    return "".join(c for c in _valid_runes(_str("nospace", 1, s)) if c not in _GO_SPACE)


def _split_words(s: str) -> list[str]:
    """splitWords: words end at `_`, `-`, space, and before an upper-case letter that follows a
    lower-case one or starts a capitalised word ("HTTPServer" is "HTTP", "Server")."""
    from unicodedata import category  # unicode.IsUpper and IsLower: the Lu and Ll categories

    runes = _valid_runes(s)
    words: list[str] = []
    current: list[str] = []
    for i, r in enumerate(runes):
        if r in "_- ":
            if current:
                words.append("".join(current))
                current = []
            continue
        if category(r) == "Lu" and current:
            next_lower = i + 1 < len(runes) and category(runes[i + 1]) == "Ll"
            if next_lower or category(runes[i - 1]) != "Lu":
                words.append("".join(current))
                current = []
        current.append(r)
    if current:
        words.append("".join(current))
    return words


def _go_lower(word: str) -> str:
    """strings.ToLower of a word (valid runes already)."""
    return word.lower() if word.isascii() else "".join(map(_lower_char, word))


def _snakecase(s: object) -> str:
    """snakecase: splitWords, lower-cased, joined by `_`."""
    return "_".join(_go_lower(w) for w in _split_words(_str("snakecase", 1, s)))


def _kebabcase(s: object) -> str:
    """kebabcase: splitWords, lower-cased, joined by `-`."""
    return "-".join(_go_lower(w) for w in _split_words(_str("kebabcase", 1, s)))


def _camelcase(s: object) -> str:
    """camelcase: splitWords, lower-cased, every word but the first with its first letter upper-cased."""
    words = [_go_lower(w) for w in _split_words(_str("camelcase", 1, s))]
    return "".join(w if i == 0 else _upper_char(w[0]) + w[1:] for i, w in enumerate(words))


# --- collections ------------------------------------------------------------------------------------


def _dict(*values: object) -> dict[str, Any]:
    """dict: CreateMap, as confd's `map` (key, value, key, value, ...)."""
    return create_map("dict", values)


def _list_of(*values: object) -> list[Any]:
    """list: its arguments as a list."""
    return list(values)


def _mapping(func: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TemplateError(f"{func}: argument 1 must be a map, got {type(value).__name__} {value!r}")
    return value


def _has_key(m: object, key: object) -> bool:
    """hasKey: whether the map holds `key`."""
    return _str("hasKey", 2, key) in _mapping("hasKey", m)


def _keys(m: object) -> list[str]:
    """keys: the map's keys, sorted (Go's sort.Strings: byte order)."""
    mapping = _mapping("keys", m)
    for key in mapping:
        if not isinstance(key, str):
            raise TemplateError(f"keys: map keys must be strings, got {type(key).__name__} {key!r}")
    return sorted(mapping, key=go_bytes)


def _values(m: object) -> list[Any]:
    """values: the map's values, in the order of its sorted keys."""
    mapping = _mapping("values", m)
    return [mapping[k] for k in _keys(mapping)]


def _append(values: object, value: object) -> list[Any]:
    """append (appendList): a new list, `value` after the list's elements."""
    return [*_list("append", values, "values"), value]


def _pluck(key: object, *maps: object) -> list[Any]:
    """pluck: `key`'s value from each map that holds it, in order."""
    name = _str("pluck", 1, key)
    found = []
    for i, m in enumerate(maps):
        if not isinstance(m, Mapping):
            raise TemplateError(f"pluck: argument {i + 2} must be a map, got {type(m).__name__} {m!r}")
        if name in m:
            found.append(m[name])
    return found


def _sha256sum(s: object) -> str:
    """sha256sum: the SHA-256 of the string's bytes, in lower-case hex."""
    import hashlib

    return hashlib.sha256(go_bytes(_str("sha256sum", 1, s))).hexdigest()


# --- include: the rules both engines' include follow ---------------------------------------------


def include_path(name: object, templates_dir: Path, stack: list[Path]) -> Path:
    """include.go NewIncludeFunc and isPathWithin: `name` joined to the templates directory and
    cleaned (a leading `/` is inside it, as filepath.Join makes it), under the directory (not the
    directory itself, nothing above it), not already being included (a cycle) nor deeper than
    INCLUDE_DEPTH; the messages are the fork's. The check is on the text, as the fork's and
    Jinja's loader's are: a symbolic link inside the directory is followed."""
    text = _str("include", 1, name)
    parts: list[str] = []
    for part in PurePosixPath(text).parts:
        if part == "..":
            if not parts:
                parts = [".."]
                break
            parts.pop()
        elif part not in ("/", "."):
            parts.append(part)
    if not parts or parts[0] == "..":
        detail = f"include path {quote(text)} is outside template directory"
        raise FunctionError(f"include: {detail}", detail)
    clean = templates_dir.joinpath(*parts)
    if clean in stack:
        detail = f"include cycle detected: {clean} is already being processed"
        raise FunctionError(f"include: {detail}", detail)
    if len(stack) >= INCLUDE_DEPTH:
        detail = f"maximum include depth ({INCLUDE_DEPTH}) exceeded"
        raise FunctionError(f"include: {detail}", detail)
    return clean


FORK_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "default": _default,
    "ternary": _ternary,
    "coalesce": _coalesce,
    "empty": is_empty,
    "toJson": lambda value: to_json("toJson", value, False),
    "fromJson": from_json,
    "toPrettyJson": lambda value: to_json("toPrettyJson", value, True),
    "indent": _indent,
    "nindent": _nindent,
    "quote": _quote,
    "squote": _squote,
    "regexMatch": _regex_match,
    "regexFind": _regex_find,
    "regexReplaceAll": _regex_replace_all,
    "trimPrefix": _trim_prefix,
    "repeat": _repeat,
    "nospace": _nospace,
    "snakecase": _snakecase,
    "camelcase": _camelcase,
    "kebabcase": _kebabcase,
    "dict": _dict,
    "list": _list_of,
    "hasKey": _has_key,
    "keys": _keys,
    "values": _values,
    "append": _append,
    "pluck": _pluck,
    "sha256sum": _sha256sum,
    **FORK_LOOKUPS,
}
"""The fork's functions but `include` (each engine's own), by the fork's names."""

FORK_FILTER_NAMES: frozenset[str] = frozenset(
    {
        "empty",
        "toJson",
        "fromJson",
        "toPrettyJson",
        "quote",
        "squote",
        "trimPrefix",
        "nospace",
        "snakecase",
        "camelcase",
        "kebabcase",
        "hasKey",
        "keys",
        "values",
        "append",
        "sha256sum",
    }
)
"""The fork's functions whose first argument reads naturally as a piped value in Jinja:
`{{ m | toJson }}`, `{{ name | snakecase }}`. (In Go the piped value is the last argument.)"""
