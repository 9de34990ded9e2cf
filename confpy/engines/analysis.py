"""What `confpy check` and `confpy convert` learn from an engine about a template: its problems,
the keys it reads, the templates it uses (`Engine.analyse`), its Jinja2 translation
(`Engine.convert`).

Its own module, apart from the Engine protocol (confpy.engines.base), so that a run, which
renders and never analyses, does not build these classes: the engines import it where they
analyse or convert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Analysis", "Conversion", "KeyRead", "Problem", "TemplateUse"]


@dataclass(frozen=True)
class Problem:
    """One finding: where it is and what is wrong."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


@dataclass
class KeyRead:
    """A store function called with a literal key in a template."""

    function: str
    literal: str
    prefix_only: bool
    """Only `literal`'s start is known: a pattern's part before `*?[`, or a concatenation's first part."""
    line: int


@dataclass
class TemplateUse:
    """What one template of a resource uses, and what is wrong in it."""

    path: str
    problems: list[Problem] = field(default_factory=list)
    """Syntax errors, unknown functions, filters, tests and variables, in the order they are found."""
    key_reads: list[KeyRead] = field(default_factory=list)
    missing: list[Problem] = field(default_factory=list)
    """The templates it names (include, import, extends) that do not exist."""


@dataclass
class Conversion:
    """The Jinja2 text, and (line, message) for each construct that could not be translated."""

    text: str
    problems: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class Analysis:
    """A resource's templates, checked without a backend."""

    renderable: bool
    """They all parse and exist: rendering with sample data can be tried."""
    missing_src: Path | None = None
    """The resource's own template, when it does not exist."""
    templates: list[str] = field(default_factory=list)
    """The names of the templates analysed (each one the engine found)."""
    uses: list[TemplateUse] = field(default_factory=list)
