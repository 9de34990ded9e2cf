"""The in-memory key store templates read from, with confd's (memkv's) semantics.

Pure code: no I/O. Onetime mode fills one per resource from a snapshot; watch mode keeps
one mirror updated by events and hands resources read-only views of it.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import NamedTuple

from confpy._go.path import BadPattern, path_clean, pattern_regex
from confpy.errors import FunctionError, KeyNotFoundError, TemplateError

__all__ = ["KVPair", "KeyStore", "string_argument"]


class KVPair(NamedTuple):
    """A key and its value; field names match confd's so templates can say `.Key` and `.Value`."""

    Key: str
    Value: str


def string_argument(func: str, position: int, value: object) -> str:
    """A template function's string argument; anything else is the template's mistake, named."""
    if not isinstance(value, str):
        raise TemplateError(
            f"{func}: argument {position} must be a string, got {type(value).__name__} {value!r}"
        )
    return value


@lru_cache(maxsize=8192)
def _terms(path: str) -> tuple[str, ...]:
    """The cleaned path's elements; the root is ("",) so that every absolute path starts with it.

    memkv splits "/" into ["", ""], which no deeper key can share: confd's `ls "/"` misses every
    directory and `lsdir "/"` is always empty (confd issue #725). confpy lists the root.
    """
    cleaned = path_clean(path)
    return ("",) if cleaned == "/" else tuple(cleaned.split("/"))


def _literal_prefix(pattern: str) -> str:
    """The part of a pattern before its first wildcard, escape or class: every match starts with it."""
    end = len(pattern)
    for special in "*?[\\":
        found = pattern.find(special)
        if found != -1:
            end = min(end, found)
    return pattern[:end]


def _prefix_end(keys: list[str], prefix: str, start: int) -> int:
    """The end of the run of sorted `keys` from `start` that start with `prefix`: the first key not
    below the least string above them all (the prefix with its last character incremented)."""
    if not prefix:
        return len(keys)
    last = ord(prefix[-1])
    if last == 0x10FFFF:  # no character above it: walk the run
        end = start
        while end < len(keys) and keys[end].startswith(prefix):
            end += 1
        return end
    return bisect_left(keys, prefix[:-1] + chr(last + 1), start)


#: A KVPair made without the Python-level __new__ a NamedTuple has (gets makes one per key).
_pair = tuple.__new__


class KeyStore:
    """Keys and values with the lookups confd's template functions need.

    `gets` and `getvs` look only at the keys that start with the pattern's literal part, found by
    bisection in a sorted key list built on first use and kept up to date by `set` and `delete`:
    a template that calls `gets` once per upstream stays linear in the number of keys.
    """

    __slots__ = ("_data", "_sorted")

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        self._data: dict[str, str] = dict(items)
        self._sorted: list[str] | None = None

    def copy(self) -> KeyStore:
        """An independent copy that shares this store's sorted key list, built once."""
        clone = KeyStore(self._data)
        clone._sorted = list(self._keys())
        return clone

    def _keys(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self._data)
        return self._sorted

    def _matching(self, pattern: str) -> list[str]:
        """The keys matching `pattern`, in key order."""
        try:
            match = pattern_regex(pattern).match
        except BadPattern as exc:
            raise FunctionError(f"{exc}: {pattern!r}", str(exc)) from None
        prefix = _literal_prefix(pattern)
        keys = self._keys()
        start = bisect_left(keys, prefix)
        return [key for key in keys[start : _prefix_end(keys, prefix, start)] if match(key)]

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def items(self) -> Iterable[tuple[str, str]]:
        return self._data.items()

    def set(self, key: str, value: str) -> None:
        if self._sorted is not None and key not in self._data:
            insort(self._sorted, key)
        self._data[key] = value

    def delete(self, key: str) -> None:
        if self._data.pop(key, None) is not None and self._sorted is not None:
            del self._sorted[bisect_left(self._sorted, key)]

    def replace(self, items: Mapping[str, str]) -> None:
        """Drop everything and hold exactly `items`."""
        self._data = dict(items)
        self._sorted = None

    def get(self, key: str) -> KVPair:
        """The pair at `key`; a missing key is an error, as in confd."""
        if type(key) is not str:
            string_argument("get", 1, key)
        try:
            return KVPair(key, self._data[key])
        except KeyError:
            raise KeyNotFoundError(key) from None

    def getv(self, key: str, *default: str) -> str:
        """The value at `key`, or the default if one is given (a string, as Go's ...string)."""
        if type(key) is not str:
            string_argument("getv", 1, key)
        if default and type(default[0]) is not str:
            string_argument("getv", 2, default[0])
        if key in self._data:
            return self._data[key]
        if default:
            return default[0]
        raise KeyNotFoundError(key)

    def gets(self, pattern: str) -> list[KVPair]:
        """Pairs whose key matches the path.Match pattern, sorted by key."""
        data = self._data
        if type(pattern) is not str:
            string_argument("gets", 1, pattern)
        return [_pair(KVPair, (k, data[k])) for k in self._matching(pattern)]

    def getvs(self, pattern: str) -> list[str]:
        """Values whose key matches the pattern, sorted by value."""
        data = self._data
        if type(pattern) is not str:
            string_argument("getvs", 1, pattern)
        return sorted(data[k] for k in self._matching(pattern))

    def exists(self, key: str) -> bool:
        """True for a key; a directory (a prefix of keys) is not a key."""
        if type(key) is not str:
            string_argument("exists", 1, key)
        return key in self._data

    def ls(self, path: str) -> list[str]:
        """Sorted unique names of the keys and directories right below `path` (memkv's List).

        If `path` is itself a key, its base name is listed too, as in memkv. Paths and keys are
        compared element by element after cleaning, so "/foo" never lists "/foobar/x" and
        "/foo/", "/foo" and "/foo//" list the same names.
        """
        names: set[str] = set()
        depth, below = self._below("ls", path)
        for terms in below:
            name = terms[depth] if len(terms) > depth else terms[-1]
            if name:
                names.add(name)
        return sorted(names)

    def lsdir(self, path: str) -> list[str]:
        """Sorted names of the sub-directories right below `path` that hold keys (memkv's ListDir)."""
        depth, below = self._below("lsdir", path)
        return sorted({terms[depth] for terms in below if len(terms) > depth + 1})

    def _below(self, func: str, path: str) -> tuple[int, Iterator[tuple[str, ...]]]:
        """`path`'s depth in elements, and the elements of every key at or below it (cleaned)."""
        if type(path) is not str:
            string_argument(func, 1, path)
        prefix = _terms(path)
        depth = len(prefix)
        return depth, (terms for terms in map(_terms, self._data) if terms[:depth] == prefix)
