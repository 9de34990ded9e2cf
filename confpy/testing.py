"""Helpers for testing your own templates and resources with confpy, without an etcd server.

    from confpy.testing import MemoryBackend, render_confdir

    outputs = render_confdir("/etc/confd", {"/app/db/host": "db1"})
    assert outputs["app.toml"] == "db = db1:5432\\n"

`MemoryBackend` behaves like etcd where confpy relies on it (revisions, consistent reads, watches
from a revision, compaction, dropped watches via `fail_watches()`), so a `WatchEngine` can run on it.
Part of the public API, documented in docs/library.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from confpy.backends.memory import MemoryBackend
from confpy.config.resource import load_resources
from confpy.engines.render import Renderer
from confpy.errors import ConfigError
from confpy.store import KeyStore

__all__ = ["MemoryBackend", "render_confdir"]


def render_confdir(confdir: str | Path, values: Mapping[str, str], *, prefix: str = "") -> dict[str, str]:
    """Render every resource of `confdir` against `values`; resource name -> output. Writes nothing.

    A resource file that does not load raises its ConfigError; a template that does not render
    raises its TemplateError, as `confpy -onetime` would report them.
    """
    root = Path(confdir)
    resources, errors = load_resources(root, global_prefix=prefix)
    if errors:
        raise ConfigError("; ".join(str(e) for e in errors))
    renderer = Renderer(root / "templates")
    return {r.name: renderer.render(r, KeyStore(r.view(values))) for r in resources}
