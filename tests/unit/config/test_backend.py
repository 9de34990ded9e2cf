"""Which backend each resource reads, and the sharing of one connection per distinct backend."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from confpy.config.backend import BackendPool, by_backend, describe_backend
from confpy.config.resource import TemplateResource
from confpy.config.settings import Settings


@dataclass
class Item:
    resource: TemplateResource


def item(name: str, backend: Settings | None = None) -> Item:
    return Item(
        TemplateResource(name=name, path=Path(name), src="a.j2", dest=Path("/tmp/a"), backend=backend)
    )


def test_one_backend_per_distinct_connection_shared_by_whoever_names_it() -> None:
    env, file_a = Settings(backend="env"), Settings(backend="file", files=("/a.yaml",))
    with BackendPool() as pool:
        first = pool.get(file_a)
        # Equal connections share, whatever the timeouts; another file is another backend.
        assert pool.get(file_a._replace(connect_timeout=9.0)) is first
        assert pool.get(Settings(backend="file", files=("/b.yaml",))) is not first
        assert pool.get(env) is pool.get(Settings(backend="env"))


def test_resources_grouped_by_backend_the_global_one_first() -> None:
    settings = Settings(nodes=("http://127.0.0.1:2379",))
    own = Settings(backend="file", files=("/s.yaml",))
    items = [item("a", own), item("b"), item("c", Settings(nodes=("http://127.0.0.1:2379",))), item("d", own)]
    groups = by_backend(settings, items)
    assert [(chosen.backend, [i.resource.name for i in group]) for chosen, group in groups] == [
        ("etcdv3", ["b", "c"]),
        ("file", ["a", "d"]),
    ]
    assert groups[0][0] is settings
    assert by_backend(settings, [item("x", own)])[0] == (settings, [])


def test_messages_name_the_backend_as_the_start_line_does() -> None:
    assert describe_backend(Settings()) == "etcdv3 (nodes http://127.0.0.1:2379)"
    assert describe_backend(Settings(backend="file", files=("/a.yaml", "/b"))) == "file (files /a.yaml, /b)"
    assert describe_backend(Settings(backend="env")) == "env"
