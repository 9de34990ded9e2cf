"""confd's function map as Go's text/template sees it: each function's Go signature.

Go checks every call against the function's type before calling it (arity, then each argument in
order, then the piped value), so the Go engine needs the signatures confd's functions have in Go:
resource/template/template_funcs.go (newFuncMap) and memkv's Store.FuncMap (store.go), and
those the maintained fork (abtreece/confd) adds in pkg/template/utility_funcs.go. The
implementations are confpy.engines.functions', shared with Jinja, except where confd's Go behaviour is a
quirk confpy's Jinja functions improve on (`reverse`), or sorts in place where Jinja's sort a copy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from confpy._go.strconv import byte_len
from confpy.engines.forkfuncs import FORK_FUNCTIONS, to_json
from confpy.engines.functions import PURE_FUNCTIONS, store_functions
from confpy.engines.gotemplate.gotypes import (
    ANY,
    BOOL,
    INT,
    INT_SLICE,
    KVPAIR,
    KVPAIR_SLICE,
    KVPAIRS,
    MAP,
    SLICE,
    SRV_SLICE,
    STRING,
    STRING_SLICE,
    TIME,
    GoError,
    GoType,
    IntSlice,
    KVPairs,
    KVPairSlice,
    NilMap,
    NilSlice,
    Signature,
    StringSlice,
    type_of,
)
from confpy.store import KeyStore, KVPair

__all__ = ["SIGNATURES", "go_functions"]


def _sig(result: GoType, *params: GoType, variadic: bool = False, errors: bool = False) -> Signature:
    return Signature(params, result, variadic=variadic, errors=errors)


_S = STRING
_ARITHMETIC = _sig(INT, INT, INT)

SIGNATURES: dict[str, Signature] = {
    # template_funcs.go, newFuncMap
    "base": _sig(_S, _S),  # path.Base
    "split": _sig(STRING_SLICE, _S, _S),  # strings.Split
    "json": _sig(MAP, _S, errors=True),  # UnmarshalJsonObject
    "jsonArray": _sig(SLICE, _S, errors=True),  # UnmarshalJsonArray
    "dir": _sig(_S, _S),  # path.Dir
    "map": _sig(MAP, ANY, variadic=True, errors=True),  # CreateMap(values ...interface{})
    "getenv": _sig(_S, _S, _S, variadic=True),  # Getenv(key string, v ...string)
    "join": _sig(_S, STRING_SLICE, _S),  # strings.Join
    "datetime": _sig(TIME),  # time.Now
    "toUpper": _sig(_S, _S),
    "toLower": _sig(_S, _S),
    "contains": _sig(BOOL, _S, _S),
    "replace": _sig(_S, _S, _S, _S, INT),  # strings.Replace(s, old, new string, n int)
    "trimSuffix": _sig(_S, _S, _S),
    "lookupIP": _sig(STRING_SLICE, _S),
    "lookupIPV4": _sig(STRING_SLICE, _S),
    "lookupIPV6": _sig(STRING_SLICE, _S),
    "lookupSRV": _sig(SRV_SLICE, _S, _S, _S),  # []*net.SRV
    "fileExists": _sig(BOOL, _S),  # util.IsFileExist
    "base64Encode": _sig(_S, _S),
    "base64Decode": _sig(_S, _S, errors=True),
    "parseBool": _sig(BOOL, _S, errors=True),  # strconv.ParseBool
    "reverse": _sig(ANY, ANY),  # Reverse(values interface{}) interface{}
    "sortByLength": _sig(STRING_SLICE, STRING_SLICE),
    "sortKVByLength": _sig(KVPAIR_SLICE, KVPAIR_SLICE),  # []memkv.KVPair, not memkv.KVPairs
    "add": _ARITHMETIC,
    "sub": _ARITHMETIC,
    "div": _ARITHMETIC,
    "mod": _ARITHMETIC,
    "mul": _ARITHMETIC,
    "seq": _sig(INT_SLICE, INT, INT),
    "atoi": _sig(INT, _S, errors=True),  # strconv.Atoi
    # memkv store.go, Store.FuncMap
    "exists": _sig(BOOL, _S),
    "ls": _sig(STRING_SLICE, _S),
    "lsdir": _sig(STRING_SLICE, _S),
    "get": _sig(KVPAIR, _S, errors=True),
    "gets": _sig(KVPAIRS, _S, errors=True),  # memkv.KVPairs, a named type
    "getv": _sig(_S, _S, _S, variadic=True, errors=True),
    "getvs": _sig(STRING_SLICE, _S, errors=True),
    # the maintained fork (abtreece/confd): pkg/template/utility_funcs.go, utilityFuncMap
    "default": _sig(ANY, ANY, ANY),  # dfault(defaultVal, val interface{}) interface{}
    "ternary": _sig(ANY, ANY, ANY, BOOL),  # ternary(trueVal, falseVal interface{}, condition bool)
    "coalesce": _sig(ANY, ANY, variadic=True),  # coalesce(vals ...interface{}) interface{}
    "empty": _sig(BOOL, ANY),  # isEmpty(val interface{}) bool
    "toJson": _sig(_S, ANY, errors=True),
    "fromJson": _sig(ANY, _S, errors=True),  # fromJson(s string) (interface{}, error)
    "toPrettyJson": _sig(_S, ANY, errors=True),
    "indent": _sig(_S, INT, _S),  # indent(spaces int, s string) string
    "nindent": _sig(_S, INT, _S),
    "quote": _sig(_S, _S),
    "squote": _sig(_S, _S),
    "regexMatch": _sig(BOOL, _S, _S, errors=True),  # regexMatch(pattern, s string) (bool, error)
    "regexFind": _sig(_S, _S, _S, errors=True),
    "regexReplaceAll": _sig(_S, _S, _S, _S, errors=True),  # (pattern, s, repl string)
    "trimPrefix": _sig(_S, _S, _S),  # strings.TrimPrefix
    "repeat": _sig(_S, INT, _S),  # repeat(count int, s string) string
    "nospace": _sig(_S, _S),
    "snakecase": _sig(_S, _S),
    "camelcase": _sig(_S, _S),
    "kebabcase": _sig(_S, _S),
    "dict": _sig(MAP, ANY, variadic=True, errors=True),  # CreateMap, as "map"
    "list": _sig(SLICE, ANY, variadic=True),  # list(vals ...interface{}) []interface{}
    "hasKey": _sig(BOOL, MAP, _S),  # hasKey(m map[string]interface{}, key string) bool
    "keys": _sig(STRING_SLICE, MAP),
    "values": _sig(SLICE, MAP),
    "append": _sig(SLICE, SLICE, ANY),  # appendList(l []interface{}, val interface{})
    "pluck": _sig(SLICE, _S, MAP, variadic=True),  # pluck(key string, maps ...map[string]interface{})
    "sha256sum": _sig(_S, _S),
    # the fork's template_funcs.go newFuncMap, and include.go NewIncludeFunc
    "hostname": _sig(_S, errors=True),  # GetHostname() (string, error)
    "lookupIfaceIPV4": _sig(_S, _S),
    "lookupIfaceIPV6": _sig(_S, _S),
    "include": _sig(_S, _S, ANY, variadic=True, errors=True),  # func(string, ...interface{}) (string, error)
}
"""confd's functions and their Go types; a function's result becomes a value of its result type."""


def _reverse(values: Any) -> Any:
    """confd's Reverse: reverses a []string or a []memkv.KVPair in place and returns it; any other
    value, memkv.KVPairs from gets included (its type is not []memkv.KVPair), comes back unchanged."""
    if type(values) in (StringSlice, KVPairSlice):
        values.reverse()
    return values


def _now() -> Any:
    """time.Now(). time.Time's methods and layouts (gotime) are imported by the first template
    that asks for the time: a time value comes from no other function."""
    from confpy.engines.gotemplate import gotime

    return gotime.now()


def _sort_by_length(values: StringSlice) -> StringSlice:
    """confd's SortByLength: sorts the []string it is given in place and returns it, with Go's
    sort.Sort, so strings of equal length end in the order confd's end in."""
    from confpy.engines.gotemplate import gosort  # as the templates that sort need it

    gosort.sort(values, lambda a, b: byte_len(a) < byte_len(b))
    return values


def _sort_kv_by_length(values: list[KVPair]) -> list[KVPair]:
    """confd's SortKVByLength: sorts the pairs in place by the byte length of their keys (sort.Sort)."""
    from confpy.engines.gotemplate import gosort

    gosort.sort(values, lambda a, b: byte_len(a.Key) < byte_len(b.Key))
    return values


def _kv_less(pairs: KVPairs, i: int, j: int) -> bool:
    return bool(_index(pairs, i).Key < _index(pairs, j).Key)


def _index(pairs: KVPairs, i: int) -> KVPair:
    """pairs[i] with Go's bounds: a negative index panics too."""
    if i < 0:
        raise GoError(f"runtime error: index out of range [{i}]")
    if i >= len(pairs):
        raise GoError(f"runtime error: index out of range [{i}] with length {len(pairs)}")
    pair: KVPair = pairs[i]
    return pair


#: memkv.KVPairs' methods (kvpair.go, sort.Interface): `(gets "/x/*").Len` works in confd
KVPAIRS.methods.update(
    {
        "Len": (len, Signature((), INT)),
        "Less": (_kv_less, Signature((INT, INT), BOOL)),
        "Swap": (lambda pairs, i, j: None, Signature((INT, INT), ANY, results=0)),
    }
)


def _nil_when_empty(seq: Callable[[Any, Any], list[int]]) -> Callable[[Any, Any], IntSlice]:
    """confd's Seq appends to a nil []int: with no numbers it returns nil (eq and %#v tell)."""

    def call(first: Any, last: Any) -> IntSlice:
        numbers = IntSlice(seq(first, last))
        numbers.nil = not numbers
        return numbers

    return call


def _null_is_nil(decode: Callable[[Any], Any], nil: Callable[[], Any]) -> Callable[[Any], Any]:
    """json/jsonArray: encoding/json decodes a JSON null into a nil map or slice (eq, %#v tell)."""

    def call(data: Any) -> Any:
        value = decode(data)
        return nil() if not value and isinstance(data, str) and data.strip(" \t\r\n") == "null" else value

    return call


def _pluck(key: Any, *maps: Any) -> Any:
    """The fork's pluck appends to a nil []interface{}: with nothing found it returns nil."""
    found = FORK_FUNCTIONS["pluck"](key, *maps)
    return found or NilSlice()


def _append(values: Any, value: Any) -> list[Any]:
    """appendList: a nil []interface{} (Go's nil argument) is an empty one."""
    return [*(values or ()), value]


def _json(func: str, indent: bool) -> Callable[[Any], str]:
    return lambda value: to_json(func, value, indent, lambda v: str(type_of(v)))


#: the fork's functions as the Go engine calls them, built once
_FORK_GO: dict[str, Callable[..., Any]] = {
    **FORK_FUNCTIONS,
    "pluck": _pluck,
    "append": _append,
    "toJson": _json("toJson", False),
    "toPrettyJson": _json("toPrettyJson", True),
}


#: the functions that read no store as Go templates call them, built once: the fork's first,
#: confd's override them, then Go's versions of those whose results Go tells apart
_GO_PURE: dict[str, Callable[..., Any]] = {
    **_FORK_GO,
    **PURE_FUNCTIONS,
    "datetime": _now,
    "reverse": _reverse,
    "sortByLength": _sort_by_length,
    "sortKVByLength": _sort_kv_by_length,
    "seq": _nil_when_empty(PURE_FUNCTIONS["seq"]),
    "json": _null_is_nil(PURE_FUNCTIONS["json"], NilMap),
    "jsonArray": _null_is_nil(PURE_FUNCTIONS["jsonArray"], NilSlice),
}


def go_functions(store: KeyStore) -> dict[str, Callable[..., Any]]:
    """confd's function map for a Go template reading `store`, with the fork's functions (but
    include, which the engine adds: it reads the templates directory). A render's only cost
    here is binding the seven store functions."""
    return {**_GO_PURE, **store_functions(store)}
