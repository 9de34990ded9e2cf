"""Go's package path (Clean, Base, Dir, Join, Match), and confd's rule for a key under a prefix.

Keys are slash-separated paths, and confd handles them with Go's path functions: every backend,
the key store and the template functions share these, so one rule is written once.
"""

from __future__ import annotations

import posixpath
import re
from functools import lru_cache

__all__ = [
    "BadPattern",
    "path_base",
    "path_clean",
    "path_dir",
    "path_join",
    "path_match",
    "path_rooted",
    "path_under",
    "pattern_regex",
]


class BadPattern(ValueError):
    """path.ErrBadPattern; str() is Go's message, which does not name the pattern (`pattern` does)."""

    def __init__(self, pattern: str) -> None:
        super().__init__("syntax error in pattern")
        self.pattern = pattern


def path_clean(path: str) -> str:
    """Go's path.Clean: the shortest equivalent path ("" becomes ".")."""
    if path[:1] == "/" and path[-1:] != "/" and "//" not in path and "/." not in path:
        return path  # rooted, with no empty, "." or ".." element and no trailing "/": most keys
    return _normalized(path)


def _normalized(path: str) -> str:
    """path.Clean's rules applied (posixpath's normpath, a Python loop over the elements)."""
    if path == "":
        return "."
    cleaned = posixpath.normpath(path)
    # posixpath keeps a leading "//" (POSIX allows it to mean something); Go does not.
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def path_base(path: str) -> str:
    """Go's path.Base: the last element, trailing slashes ignored ("" is ".", "//" is "/")."""
    if path == "":
        return "."
    path = path.rstrip("/")
    if path == "":
        return "/"
    return path.rpartition("/")[2]


def path_dir(path: str) -> str:
    """Go's path.Dir: everything before the last "/", cleaned ("a" is ".", "/a/" is "/a")."""
    return path_clean(path[: path.rfind("/") + 1])


def path_join(*elems: str) -> str:
    """Go's path.Join: join the non-empty elements with "/" and clean the result."""
    parts = [e for e in elems if e != ""]
    if not parts:
        return ""
    return path_clean("/".join(parts))


def path_rooted(path: str) -> str:
    """Go's path.Join("/", path): `path` cleaned, below the root."""
    return path_clean(path if path[:1] == "/" else "/" + path)


def path_under(key: str, root: str) -> bool:
    """Whether reading `root` yields `key`: the key itself, or one below `root + "/"`.

    confd's rule (backends/etcdv3/client.go, GetValues: `k == key || strings.HasPrefix(k, key+"/")`):
    `/app/db` yields `/app/db` and `/app/db/host`, never its sibling `/app/dbx/host`. Every
    backend, snapshot and watch event goes through it.
    """
    return key == root or key.startswith(root if root.endswith("/") else root + "/")


@lru_cache(maxsize=1024)
def pattern_regex(pattern: str) -> re.Pattern[str]:
    """Translate a Go path.Match pattern into a regex; `*` and `?` never match "/".

    Raises BadPattern where Go's path.Match returns ErrBadPattern."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "\\":
            if i + 1 >= n:
                raise BadPattern(pattern)
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif c == "[":
            i += 1
            negate = i < n and pattern[i] == "^"
            if negate:
                i += 1
            items: list[str] = []
            first = True
            while True:
                if i >= n:
                    raise BadPattern(pattern)
                if pattern[i] == "]" and not first:
                    i += 1
                    break
                first = False
                lo, i = _class_char(pattern, i)
                if i < n and pattern[i] == "-":
                    hi, i = _class_char(pattern, i + 1)
                    # Go accepts a reversed range such as [z-a]; it matches nothing.
                    if lo <= hi:
                        items.append(f"{re.escape(lo)}-{re.escape(hi)}")
                else:
                    items.append(re.escape(lo))
            out.append(_class_regex("".join(items), negate))
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _class_regex(body: str, negate: bool) -> str:
    """A regex for one class; an empty body (only reversed ranges) matches nothing, or anything if negated."""
    if body:
        return f"[^{body}]" if negate else f"[{body}]"
    return "." if negate else "(?!)"


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    """One (possibly escaped) character inside a [...] class, and the index after it."""
    n = len(pattern)
    if i >= n or pattern[i] in "-]":
        raise BadPattern(pattern)
    if pattern[i] == "\\":
        if i + 1 >= n:
            raise BadPattern(pattern)
        return pattern[i + 1], i + 2
    return pattern[i], i + 1


def path_match(pattern: str, name: str) -> bool:
    """Go's path.Match: shell pattern matching where `*` does not cross "/"; BadPattern if malformed."""
    return pattern_regex(pattern).match(name) is not None
