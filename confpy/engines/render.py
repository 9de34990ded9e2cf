"""The renderer the pipeline holds: the engines of one templates directory, each made on first
use and chosen per resource by `confpy.engines.select`, so compiled templates are kept across
renders and threads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from confpy.config.resource import TemplateResource
from confpy.engines import select
from confpy.engines.base import Engine
from confpy.store import KeyStore

__all__ = ["Renderer"]


class Renderer:
    """Renders the resources whose templates are under `templates_dir` against a key store."""

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = templates_dir
        self._engines: dict[Callable[[Path], Engine], Engine] = {}

    def engine(self, resource: TemplateResource) -> Engine:
        """The engine of `resource`, made the first time one of its kind is needed."""
        make = select(resource)
        engine = self._engines.get(make)
        if engine is None:
            engine = self._engines.setdefault(make, make(self.templates_dir))
        return engine

    def render(self, resource: TemplateResource, store: KeyStore, item: str | None = None) -> str:
        """Render the resource's template with `store`'s keys (and an each-resource's `item`);
        every failure is a TemplateError."""
        pieces: list[str] = []
        self.render_to(resource, store, pieces.append, item)
        return "".join(pieces)

    def render_to(
        self,
        resource: TemplateResource,
        store: KeyStore,
        write: Callable[[str], None],
        item: str | None = None,
    ) -> None:
        """Render as `render` does, handing the output to `write` piece by piece as it is made,
        so that a large output goes to its stage file and is never held in memory whole.
        `item`: the key an each-resource's file is for."""
        self.engine(resource).render(resource, store, write, item)

    def render_text(self, resource: TemplateResource, text: str, store: KeyStore, item: str) -> str:
        """An each-resource's dest file name for `item`, in the resource's engine."""
        return self.engine(resource).render_text(resource, text, store, item)
