"""Go's static types at the function boundary, for Python values seen as Go values.

Go's text/template checks every call against the function's signature (exec.go evalCall,
evalArg, validateType), and `printf "%T"` prints a value's Go type. Python values do not carry
those types, so this module gives them one: a str is a string, a dict a map[string]interface {},
a plain list []interface {} (JSON data and jsonArray), and a list of one of the GoSlice classes
the slice type a confd function returns ([]string, []int, memkv.KVPairs...), tagged by its
signature's result type.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

from confpy.store import KVPair

__all__ = [
    "ANY",
    "BOOL",
    "FLOAT64",
    "INT",
    "INT_SLICE",
    "KVPAIR",
    "KVPAIRS",
    "KVPAIR_SLICE",
    "MAP",
    "SLICE",
    "SRV_SLICE",
    "STRING",
    "STRING_SLICE",
    "TIME",
    "ByteSlice",
    "GoError",
    "GoSlice",
    "GoType",
    "Iface",
    "NilMap",
    "NilSlice",
    "Signature",
    "Uint8",
    "arity_error",
    "is_nil",
    "type_of",
    "unwrap",
    "validate",
]


class GoError(Exception):
    """An error a Go function returns, or the panic it recovers from; str() is Go's message."""


class GoType:
    """One Go type: its name as Go prints it, its kind (reflect.Kind, lower case), whether it is
    a named type (the predeclared ones are), its underlying type, and for a named basic type the
    Python class of its values (`new`, time.Duration's), which a constant argument becomes."""

    __slots__ = ("elem", "kind", "methods", "name", "named", "new", "underlying")

    def __init__(
        self,
        name: str,
        kind: str,
        elem: GoType | None = None,
        *,
        named: bool = False,
        underlying: GoType | None = None,
        new: Callable[..., Any] | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.elem = elem
        self.named = named
        self.underlying = underlying or self
        self.new = new
        #: the exported methods of a value of this type: name -> (implementation, signature)
        self.methods: dict[str, tuple[Callable[..., Any], Signature]] = {}

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"GoType({self.name})"

    def can_be_nil(self) -> bool:
        """Go's canBeNil: whether an untyped nil can be assigned to the type."""
        return self.kind in ("interface", "slice", "map", "ptr", "func")

    def assignable_from(self, source: GoType) -> bool:
        """reflect.Type.AssignableTo: identical, to an empty interface, or the same underlying type
        where one of the two is unnamed (memkv.KVPairs to []memkv.KVPair)."""
        if source is self or self.kind == "interface":
            return True
        return not (source.named and self.named) and source.underlying is self.underlying


def _slice(elem: GoType) -> GoType:
    return GoType(f"[]{elem.name}", "slice", elem)


ANY = GoType("interface {}", "interface")
BOOL = GoType("bool", "bool", named=True)
INT = GoType("int", "int", named=True)
INT64 = GoType("int64", "int", named=True)
FLOAT64 = GoType("float64", "float64", named=True)
COMPLEX128 = GoType("complex128", "complex128", named=True)
STRING = GoType("string", "string", named=True)
MAP = GoType("map[string]interface {}", "map", ANY)
SLICE = _slice(ANY)
STRING_SLICE = _slice(STRING)
INT_SLICE = _slice(INT)
KVPAIR = GoType("memkv.KVPair", "struct", named=True)
KVPAIR_SLICE = _slice(KVPAIR)
KVPAIRS = GoType("memkv.KVPairs", "slice", KVPAIR, named=True, underlying=KVPAIR_SLICE)
SRV_PTR = GoType("*net.SRV", "ptr")
SRV_SLICE = _slice(SRV_PTR)
BYTE_SLICE = _slice(GoType("uint8", "uint8", named=True))
TIME = GoType("time.Time", "struct", named=True)


_T = TypeVar("_T", bound=type)


def go_class(cls: _T) -> _T:
    """Make `cls` the Python class of its `go_type`: results and constants of that type become one."""
    typ: GoType = cls.__dict__["go_type"]
    typ.new = cls
    return cls


class GoSlice(list[Any]):
    """A list whose Go type is not []interface {}: each subclass names its slice type. `nil`
    marks Go's nil slice (reflect.Zero), which prints as empty but is nil to eq and %#v."""

    go_type: ClassVar[GoType]
    nil = False


@go_class
class StringSlice(GoSlice):
    go_type = STRING_SLICE


@go_class
class IntSlice(GoSlice):
    go_type = INT_SLICE


@go_class
class KVPairs(GoSlice):
    go_type = KVPAIRS


@go_class
class KVPairSlice(GoSlice):
    go_type = KVPAIR_SLICE


@go_class
class SRVSlice(GoSlice):
    go_type = SRV_SLICE


@go_class
class ByteSlice(GoSlice):
    go_type = BYTE_SLICE


@go_class
class Int64(int):
    """An int64 result (time.Time.Unix): prints as an int, is not an int to Go's type checks."""

    go_type = INT64


@go_class
class Uint8(int):
    """A byte (index of a string): prints as an int, is not an int to Go's type checks."""

    go_type = BYTE_SLICE.elem


_BASIC: dict[type, GoType] = {
    bool: BOOL,
    int: INT,
    float: FLOAT64,
    complex: COMPLEX128,
    str: STRING,
    dict: MAP,
    list: SLICE,
    datetime.datetime: TIME,
    KVPair: KVPAIR,
}


def type_of(value: Any) -> GoType | None:
    """The Go type of a Python value; None for nil (Go's invalid reflect.Value).

    A class standing for a Go named type says which in its `go_type` attribute; values of other
    classes (a caller's NamedTuples and dataclasses) are named after their class.
    """
    cls = type(value)
    known = _BASIC.get(cls)
    if known is not None:
        return known
    if value is None:
        return None
    declared = getattr(cls, "go_type", None)
    if isinstance(declared, GoType):
        return declared
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return SLICE
    if isinstance(value, dict):
        return MAP
    if callable(value):
        return GoType("func(...) interface {}", "func")
    return GoType(cls.__name__, "struct", named=True)


def adopt(typ: GoType, value: Any) -> Any:
    """A function's result as a value of its declared result type (a list becomes the slice type)."""
    new = typ.new
    if new is None or type(value) is new:
        return value
    return new(value if value is not None else ())


class NilSlice(GoSlice):
    """Go's nil []interface {}: a JSON null decoded into a slice (UnmarshalJsonArray)."""

    go_type = SLICE
    nil = True


class NilMap(dict[str, Any]):
    """Go's nil map[string]interface {} (reflect.Zero, a JSON null decoded into a map): empty
    like any map, nil to eq, %#v and json.Marshal."""

    go_type = MAP
    nil = True


def is_nil(value: Any) -> bool:
    """funcs.go isNil for the values that can be nil without being None: slices and maps."""
    return (isinstance(value, GoSlice) and value.nil) or type(value) is NilMap


def zero(typ: GoType) -> Any:
    """reflect.Zero of a nil-able type, as a Python value (a nil slice: an empty one marked nil)."""
    if typ.kind == "slice" and typ.new is not None:
        value = typ.new()
        value.nil = True
        return value
    return NilMap() if typ.kind == "map" else None


class Signature:
    """A Go function's type: parameter types, whether the last is variadic (`...T`, given as T),
    and its result type; `errors` when it also returns an error (Go's second result).
    `results` counts its results, which Go's template engine refuses beyond (T, error)."""

    __slots__ = ("errors", "params", "result", "results", "variadic")

    def __init__(
        self,
        params: Sequence[GoType],
        result: GoType,
        *,
        variadic: bool = False,
        errors: bool = False,
        results: int | None = None,
    ) -> None:
        self.params = tuple(params)
        self.variadic = variadic
        self.result = result
        self.errors = errors
        self.results = results if results is not None else 1 + errors

    @property
    def fixed(self) -> int:
        """How many parameters come before the variadic one (all of them if none is)."""
        return len(self.params) - self.variadic

    def param(self, i: int) -> GoType:
        """The type the i-th argument is checked against (a variadic one's element type)."""
        return self.params[min(i, len(self.params) - 1)]


def validate(value: Any, typ: GoType) -> Any:
    """exec.go validateType: `value` as an argument of type `typ`, or GoError with Go's reason."""
    if value is None:
        if typ.can_be_nil():
            return zero(typ)
        raise GoError(f"invalid value; expected {typ}")
    source = type_of(value)
    if source is not None and typ.assignable_from(source):
        return value
    raise GoError(f"wrong type for value; expected {typ}; got {source}")


def arity_error(name: str, sig: Signature, given: int, piped: bool) -> str | None:
    """exec.go evalCall's checks before any argument is evaluated: the count, then goodFunc.

    A variadic function's message counts the arguments without the piped value, as Go's does.
    """
    count = given + piped
    if sig.variadic:
        if count < sig.fixed:
            return f"wrong number of args for {name}: want at least {sig.fixed} got {given}"
    elif count != len(sig.params):
        return f"wrong number of args for {name}: want {len(sig.params)} got {count}"
    if sig.results != 1 and not (sig.results == 2 and sig.errors):
        return f'can\'t call method/function "{name}" with {sig.results} results'
    return None


class Iface:
    """A value as a Go interface {} holds it: an element of a map[string]interface {} or of a
    []interface {}, until a pipeline unwraps it (exec.go evalPipeline). Go tells it apart from
    the value itself: a field of a nil one is a nil-pointer error where a missing value gives
    <no value>, errors name its static type `interface {}`, a typed parameter refuses a nil
    one as `got interface {}`, and the reflect.Value parameters funcs.go does not unwrap see it."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Iface({self.value!r})"


def unwrap(value: Any) -> Any:
    """The value an Iface holds (reflect.Value.Elem), anything else as it is."""
    return value.value if type(value) is Iface else value
