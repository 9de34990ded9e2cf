"""JSON numbers in Jinja templates: floats, as in confd, that print as Go prints a float64.

confd's `json` and `jsonArray` decode every number into a float64 and Go prints a whole one
without a fraction (`5432`, `-12`, `1e+06`). A Python float prints `5432.0`, so the Jinja
functions hand out `JsonNumber`s instead: floats in every respect (arithmetic, comparisons,
`|int`), whose `str()` (what `{{ x }}`, `|string`, `~` and `|join` call) and empty
`format()` follow Go's `%v` (strconv.FormatFloat(f, 'g', -1, 64)). Arithmetic and `|round` keep the
type, so `{{ port + 1 }}` prints `5433`. Go templates keep plain floats: their engine prints them itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from confpy._go.strconv import format_float

__all__ = ["JsonNumber", "json_numbers"]


class JsonNumber(float):
    """A float64 from JSON, printed as Go's fmt prints it."""

    __slots__ = ()

    def __str__(self) -> str:
        return format_float(float(self), "g", -1)

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return str(self) if spec == "" else float.__format__(self, spec)


def _keeping_type(operation: Callable[..., Any]) -> Callable[..., Any]:
    def method(*args: Any) -> Any:
        result = operation(*args)
        return JsonNumber(result) if type(result) is float else result

    return method


for _name in (
    "__add__",
    "__radd__",
    "__sub__",
    "__rsub__",
    "__mul__",
    "__rmul__",
    "__truediv__",
    "__rtruediv__",
    "__floordiv__",
    "__rfloordiv__",
    "__mod__",
    "__rmod__",
    "__pow__",
    "__rpow__",
    "__neg__",
    "__pos__",
    "__abs__",
    "__round__",
):
    setattr(JsonNumber, _name, _keeping_type(getattr(float, _name)))


def json_numbers(value: Any) -> Any:
    """`value` (decoded JSON) with every float, however deeply nested, made a JsonNumber."""
    if type(value) is float:
        return JsonNumber(value)
    if isinstance(value, list):
        return [json_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: json_numbers(v) for k, v in value.items()}
    return value
