"""Diffs for `-noop`: what confpy would change in a destination file, optionally without the values.

Pure code: no I/O. The writer reads the current file and hands both texts here.
"""

from __future__ import annotations

import difflib

__all__ = ["colorize", "masked_diff", "unified_diff"]

_NO_NEWLINE = "\\ No newline at end of file\n"


def unified_diff(old: str, new: str, *, label: str) -> str:
    """A `diff -u` style diff of `old` -> `new`, both sides labelled with the destination path.

    A missing destination is diffed as the empty text. Lines without a final newline get
    diff's "No newline at end of file" marker, so the output stays one line per line.
    """
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=label,
        tofile=label,
    )
    out: list[str] = []
    for line in lines:
        out.append(line)
        if not line.endswith("\n"):
            out.append("\n" + _NO_NEWLINE)
    return "".join(out)


def masked_diff(old: str, new: str, *, label: str) -> str:
    """A diff of a sensitive file that says how many lines changed and shows none of them."""
    if old == new:
        return ""
    removed = added = 0
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old_lines, new_lines).get_opcodes():
        if tag != "equal":
            removed += i2 - i1
            added += j2 - j1
    return (
        f"--- {label}\n+++ {label}\n"
        f"@@ sensitive: {removed} line{'' if removed == 1 else 's'} removed, "
        f"{added} line{'' if added == 1 else 's'} added (values hidden) @@\n"
    )


# git's colours: headers bold, hunk lines cyan, removals red, additions green.
_COLOURS = (
    ("--- ", "\033[1m"),
    ("+++ ", "\033[1m"),
    ("@@", "\033[36m"),
    ("-", "\033[31m"),
    ("+", "\033[32m"),
)
_RESET = "\033[0m"


def colorize(diff: str) -> str:
    """`diff` with git's colours, for a terminal; every line keeps its text and newline."""
    out: list[str] = []
    for line in diff.splitlines(keepends=True):
        body = line.removesuffix("\n")
        colour = next((c for start, c in _COLOURS if body.startswith(start)), None)
        out.append(f"{colour}{body}{_RESET}{line[len(body) :]}" if colour else line)
    return "".join(out)
