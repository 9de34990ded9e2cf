"""Reading README.md and docs/*.md in tests: their sections, code blocks and backticked lists."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.paths import REPO

__all__ = ["DOC_FILES", "backticked", "between", "blocks", "page", "relative", "section"]

#: Every page of the user documentation.
DOC_FILES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def page(name: str) -> str:
    """README.md, or `docs/NAME`."""
    path = REPO / name if name == "README.md" else REPO / "docs" / name
    return path.read_text(encoding="utf-8")


def section(text: str, title: str) -> str:
    """The text under `## title`, up to the next `## ` heading or the end."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"no section {title!r}"
    return match.group(1)


def blocks(text: str) -> list[tuple[str, str]]:
    """The fenced code blocks of `text`: (language, content)."""
    return re.findall(r"^```(\w*)\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


def between(text: str, start: str, end: str) -> str:
    """The text from `start` up to the next `end`."""
    assert start in text, f"the page no longer says {start!r}"
    return text[text.index(start) :].partition(end)[0]


def backticked(text: str, pattern: str = r"--?[a-z][a-z-]*") -> set[str]:
    """Every `code span` of `text` that is all `pattern` (flags by default)."""
    return set(re.findall(rf"`({pattern})`", text))


def relative(path: Path) -> str:
    return str(path.relative_to(REPO))
