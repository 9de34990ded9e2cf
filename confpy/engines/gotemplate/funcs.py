"""text/template's built-in functions (text/template/funcs.go) on Python values.

Each raises `GoError` with Go's message where Go's returns an error; the executor reports it
as `error calling NAME: MESSAGE`. `and`/`or` short-circuit, so the executor implements them.
"""

from __future__ import annotations

import datetime
import types
import urllib.parse
from collections.abc import Callable
from typing import Any

from confpy._go.strconv import byte_len, go_bytes, go_string, is_raw_byte
from confpy.engines.gotemplate.fmt import eval_args, is_struct, sprint, sprintf, sprintln, type_name
from confpy.engines.gotemplate.gotypes import (
    ANY,
    STRING,
    GoError,
    GoSlice,
    GoType,
    Iface,
    Signature,
    Uint8,
    is_nil,
    unwrap,
)

__all__ = ["BUILTINS", "SEES_INTERFACE", "GoError", "basic_kind", "eq", "is_true", "lt"]


_SCALARS = (str, int, float, bool, complex)


def is_true(v: Any) -> bool:
    """Go's truth: false, 0, nil, and empty strings, slices and maps are false; structs are true."""
    if v is None:
        return False
    if type(v) in _SCALARS or type(v) is list or type(v) is dict:
        return bool(v)
    if is_struct(v) or isinstance(v, datetime.datetime):
        return True
    try:
        return bool(v)
    except Exception:  # an object without a truth value is a non-nil pointer in Go terms
        return True


def basic_kind(v: Any) -> str | None:
    """The comparable basic kind of v, or None (Go's invalidKind)."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, complex):
        return "complex"
    if isinstance(v, str):
        return "string"
    return None


def _kind(v: Any) -> str:
    if isinstance(v, dict):
        return "map"
    if isinstance(v, (list, tuple)) and not is_struct(v):
        return "slice"
    if isinstance(v, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return "func"
    return "struct"


def _comparable(v: Any) -> bool:
    kind = _kind(v)
    if kind == "struct" and is_struct(v):
        return all(basic_kind(x) is not None or x is None or _comparable(x) for x in v)
    return kind == "struct"


def eq(arg1: Any, *arg2: Any) -> bool:
    """arg1 == arg2[0] || arg1 == arg2[1] ... with Go's rules for mixing kinds."""
    if not arg2:
        raise GoError("missing argument for comparison")
    k1 = basic_kind(arg1)
    for arg in arg2:
        k2 = basic_kind(arg)
        if k1 != k2:
            if arg1 is not None and arg is not None:
                raise GoError("incompatible types for comparison")
            truth = False
        elif k1 is not None:
            truth = arg1 == arg
        elif arg1 is None or arg is None:
            truth = arg1 is None and arg is None
        elif _kind(arg1) == _kind(arg) and (is_nil(arg1) or is_nil(arg)):
            truth = is_nil(arg1) == is_nil(arg)  # nil slices and maps compare (funcs.go isNil)
        else:
            if _kind(arg1) != _kind(arg):
                raise GoError(
                    f"non-comparable types {sprintf('%s', arg1)}: {type_name(arg1)}, "
                    f"{type_name(arg)}: {sprint(arg)}"
                )
            if not _comparable(arg):
                raise GoError(f"non-comparable type {sprintf('%s', arg)}: {type_name(arg)}")
            truth = arg1 == arg
        if truth:
            return True
    return False


def ne(arg1: Any, arg2: Any) -> bool:
    return not eq(arg1, arg2)


def lt(arg1: Any, arg2: Any) -> bool:
    """arg1 < arg2 for two values of the same basic, ordered kind."""
    k1 = basic_kind(arg1)
    k2 = basic_kind(arg2)
    if k1 is None or k2 is None:
        raise GoError("invalid type for comparison")
    if k1 != k2:
        raise GoError("incompatible types for comparison")
    if k1 in ("bool", "complex"):
        raise GoError("invalid type for comparison")
    if k1 == "string" and not (arg1.isascii() and arg2.isascii()):  # Go compares the bytes
        return bool(go_bytes(arg1) < go_bytes(arg2))
    return bool(arg1 < arg2)


def le(arg1: Any, arg2: Any) -> bool:
    return lt(arg1, arg2) or eq(arg1, arg2)


def gt(arg1: Any, arg2: Any) -> bool:
    return not le(arg1, arg2)


def ge(arg1: Any, arg2: Any) -> bool:
    return not lt(arg1, arg2)


def _index_arg(index: Any, cap: int) -> int:
    if type(index) is Iface:  # slice's indexes are not unwrapped (funcs.go indexArg)
        raise GoError("cannot index slice/array with type interface {}")
    if index is None:
        raise GoError("cannot index slice/array with nil")
    if not isinstance(index, int) or isinstance(index, bool):
        raise GoError(f"cannot index slice/array with type {type_name(index)}")
    if index < 0 or index > cap:
        raise GoError(f"index out of range: {index}")
    return index


def _is_slice(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and not is_struct(v)


def index(item: Any, *indexes: Any) -> Any:
    """item[i][j]...: slices and strings by int, maps by key (a missing key gives nil)."""
    if item is None:
        raise GoError("index of untyped nil")
    for i in indexes:
        if item is None:
            raise GoError("index of nil pointer")
        if isinstance(item, str):
            data = go_bytes(item)
            x = _index_arg(i, len(data))
            if x == len(data):  # indexArg allows it; reflect's Index panics
                raise GoError("reflect: string index out of range")
            item = Uint8(data[x])
        elif _is_slice(item):
            x = _index_arg(i, len(item))
            if x == len(item):  # indexArg allows it; reflect's Index panics
                raise GoError("reflect: slice index out of range")
            item = item[x]
        elif isinstance(item, dict):
            if i is None:
                raise GoError("value is nil; should be of type string")
            if not isinstance(i, str) and all(isinstance(k, str) for k in item):
                raise GoError(f"value has type {type_name(i)}; should be string")
            item = item.get(i)
        else:
            raise GoError(f"can't index item of type {type_name(item)}")
    return item


def slice_(item: Any, *indexes: Any) -> Any:
    """item[i:j] (and item[i:j:k] for slices); strings slice by byte."""
    item = unwrap(item)
    if item is None:
        raise GoError("slice of untyped nil")
    if len(indexes) > 3:
        raise GoError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise GoError("cannot 3-index slice a string")
        data: Any = go_bytes(item)
    elif _is_slice(item):
        data = item
    else:
        raise GoError(f"can't slice item of type {type_name(item)}")
    idx = [0, len(data), len(data)]
    for k, i in enumerate(indexes):
        idx[k] = _index_arg(i, len(data))
    if idx[0] > idx[1]:
        raise GoError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise GoError(f"invalid slice index: {idx[1]} > {idx[2]}")
    result = data[idx[0] : idx[1]]
    if isinstance(result, bytes):
        return go_string(result)
    return type(item)(result) if isinstance(item, GoSlice) else result  # a slice keeps its type


def length(item: Any) -> int:
    """len: bytes of a string, elements of a slice or map."""
    if type(item) is Iface:
        if item.value is None:
            raise GoError("len of nil pointer")
        item = item.value
    if isinstance(item, str):
        return byte_len(item)
    if isinstance(item, dict) or _is_slice(item):
        return len(item)
    if item is None:  # Go's length() asks the type of the zero Value, which panics
        raise GoError("reflect: call of reflect.Value.Type on zero Value")
    raise GoError(f"len of type {type_name(item)}")


def call(fn: Any, *args: Any) -> Any:
    """call: the first argument is a function; call it with the rest."""
    if fn is None:
        raise GoError("call of nil")
    if not callable(fn) or is_struct(fn):
        raise GoError(f"non-function of type {type_name(fn)}")
    try:
        return fn(*args)
    except Exception as err:
        raise GoError(str(err)) from err


def not_(arg: Any) -> bool:
    return not is_true(arg)


_HTML = {
    0: "\ufffd",
    ord('"'): "&#34;",
    ord("'"): "&#39;",
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
}


def html(*args: Any) -> str:
    """HTML-escape the textual representation of the arguments."""
    return eval_args(args).translate(_HTML)


_JS = {
    ord("\\"): "\\\\",
    ord("'"): "\\'",
    ord('"'): '\\"',
    ord("<"): "\\u003C",
    ord(">"): "\\u003E",
    ord("&"): "\\u0026",
    ord("="): "\\u003D",
}


def _js_char(c: str) -> str:
    code = ord(c)
    if code in _JS:
        return _JS[code]
    if code < 0x20:
        return f"\\u00{code:02X}"
    if code < 0x80 or c.isprintable() or is_raw_byte(c):  # a byte that is not UTF-8 is kept
        return c
    return f"\\u{code:04X}"


def js(*args: Any) -> str:
    """JavaScript-escape the textual representation of the arguments."""
    s = eval_args(args)
    return "".join(_js_char(c) for c in s)


def urlquery(*args: Any) -> str:
    """url.QueryEscape of the textual representation of the arguments."""
    return urllib.parse.quote_plus(go_bytes(eval_args(args)), safe="")


def _builtin(*params: GoType, variadic: bool = True, result: GoType = ANY) -> Signature:
    return Signature(params, result, variadic=variadic)


_COMPARISON = _builtin(ANY, ANY, variadic=False)

#: The builtins given an interface-held value as such (Iface): their reflect.Value parameters are
#: not unwrapped first, where every other builtin's are (funcs.go indirectInterface).
SEES_INTERFACE = frozenset({"len", "slice"})

#: name -> (function, Go signature) as funcs.go builtins() declares them; a reflect.Value
#: parameter takes any value as interface{} does. and/or short-circuit: the executor runs them.
BUILTINS: dict[str, tuple[Callable[..., Any], Signature]] = {
    "and": (is_true, _builtin(ANY, ANY)),
    "call": (call, _builtin(ANY, ANY)),
    "html": (html, _builtin(ANY)),
    "index": (index, _builtin(ANY, ANY)),
    "slice": (slice_, _builtin(ANY, ANY)),
    "js": (js, _builtin(ANY)),
    "len": (length, _builtin(ANY, variadic=False)),
    "not": (not_, _builtin(ANY, variadic=False)),
    "or": (is_true, _builtin(ANY, ANY)),
    "print": (sprint, _builtin(ANY)),
    "printf": (sprintf, _builtin(STRING, ANY)),
    "println": (sprintln, _builtin(ANY)),
    "urlquery": (urlquery, _builtin(ANY)),
    "eq": (eq, _builtin(ANY, ANY)),
    "ge": (ge, _COMPARISON),
    "gt": (gt, _COMPARISON),
    "le": (le, _COMPARISON),
    "lt": (lt, _COMPARISON),
    "ne": (ne, _COMPARISON),
}
