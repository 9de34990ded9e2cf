"""Rendering, between the store and the pipeline: a resource's template and a key store in, text out.

`select` is the one place that maps a resource to its engine (the resource's own `engine` field,
decided in confpy.config.resource); the engines implement confpy.engines.base's `Engine`:
Jinja2 (jinja.py) and confd's Go templates (go.py over gotemplate/), with confd's functions
(functions.py) and confpy's filters (filters.py). render.py's `Renderer` holds the engines of one
templates directory; convert.py (statements) and convert_expr.py (expressions) translate Go
templates into Jinja2.

Its layer: below `confpy.pipeline`, above `confpy.config`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from confpy.config.resource import TemplateResource
    from confpy.engines.base import Engine

__all__ = ["select"]


@cache  # an import statement costs microseconds, and select runs for every render
def _go() -> Callable[[Path], Engine]:
    from confpy.engines.go import GoEngine

    return GoEngine


@cache
def _jinja() -> Callable[[Path], Engine]:
    from confpy.engines.jinja import JinjaEngine

    return JinjaEngine


# Each implementation is imported on first use: a run with only Go templates never imports Jinja2.
_ENGINES: dict[str, Callable[[], Callable[[Path], Engine]]] = {"go": _go, "jinja": _jinja}


def select(resource: TemplateResource) -> Callable[[Path], Engine]:
    """The engine that renders and checks `resource`, made from its templates directory."""
    return _ENGINES[resource.engine]()
