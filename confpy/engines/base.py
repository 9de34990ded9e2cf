"""The Engine protocol: what a template engine does for the pipeline and for `confpy check`.

An engine is chosen per resource by `confpy.engines.select` and made once per templates
directory (`confpy.engines.render.Renderer` holds them). It loads a resource's template
(compiled once), renders it with a key store piece by piece, analyses it without a backend for
`confpy check` (what it finds: confpy.engines.analysis), and converts it to Jinja2. The
implementations, confpy.engines.jinja and confpy.engines.go, are imported only when a resource
needs them (start-up time).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from confpy.errors import TemplateError

if TYPE_CHECKING:
    from confpy.config.resource import TemplateResource
    from confpy.engines.analysis import Analysis, Conversion
    from confpy.store import KeyStore

__all__ = ["Engine", "failed_at", "failure_reason"]


class Engine(Protocol):
    """A template engine for the resources of one templates directory."""

    templates_dir: Path

    def load(self, resource: TemplateResource) -> object:
        """The compiled template of `resource`; a TemplateError names what is missing or wrong."""

    def render(
        self,
        resource: TemplateResource,
        store: KeyStore,
        write: Callable[[str], None],
        item: str | None = None,
    ) -> None:
        """Render with `store`'s keys, handing the output to `write` piece by piece as it is made;
        every failure is a TemplateError that starts with the resource's name. `item`: the key
        an each-resource's file is for (Jinja's `item`, Go's dot)."""

    def render_text(self, resource: TemplateResource, text: str, store: KeyStore, item: str) -> str:
        """A one-line template in this engine's language (an each-resource's dest file name),
        with `item` bound as `render` binds it; a TemplateError naming the resource."""

    def analyse(self, resource: TemplateResource) -> Analysis:
        """The resource's templates parsed and validated, with the keys and names they use."""

    def locate(self, exc: TemplateError, resource: TemplateResource) -> tuple[str | None, int | None, str]:
        """Where a failed render of `resource` failed (template file and line, None where not
        known) and what went wrong, without the resource's name."""

    def convert(self, text: str, name: str) -> Conversion:
        """The Jinja2 text of a template in this engine's language, and what could not be translated."""


def failed_at(
    resource: TemplateResource, name: str, line: int | None, reason: str, path: Path
) -> TemplateError:
    """The one form of every engine's template error: `RESOURCE: NAME:LINE: reason`, NAME the
    template's path relative to templates/ as the user wrote it (`src`, an include's name), and
    the engine's own words after it (Go's error text stays Go's). The fields carry the full path."""
    where = name if line is None else f"{name}:{line}"
    return TemplateError(f"{resource.name}: {where}: {reason}", path=path, line=line)


def failure_reason(exc: TemplateError, resource: TemplateResource, templates_dir: Path) -> str:
    """The reason of a `failed_at` error: its message without the resource and the template."""
    message = str(exc).removeprefix(f"{resource.name}: ")
    if exc.path is None or not exc.path.is_relative_to(templates_dir):
        return message
    name = exc.path.relative_to(templates_dir).as_posix()
    where = name if exc.line is None else f"{name}:{exc.line}"
    return message.removeprefix(f"{where}: ")
