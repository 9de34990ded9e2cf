"""The backends the settings and the resources name, opened; imported lazily so that `confpy
--help` stays fast.

A resource's `[backend]` table names its own backend; every other resource uses the global one.
Resources whose backends agree on the connection (`Settings.connection`) share one, as the
fork's client cache does (getOrCreateClient, pkg/template/client_cache.go).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, Self, TypeVar

from confpy.backends.base import Backend
from confpy.config.resource import TemplateResource
from confpy.config.settings import Settings
from confpy.errors import BackendError, ConfpyError

__all__ = ["BackendPool", "backend_failed", "by_backend", "describe_backend", "open_backend"]


def open_backend(settings: Settings) -> Backend:
    """The backend `settings` name; imported lazily so that `confpy --help` stays fast."""
    if settings.backend == "env":
        from confpy.backends.env import EnvBackend

        return EnvBackend()
    if settings.backend == "file":
        from confpy.backends.file import FileBackend

        return FileBackend(settings.files, filter=settings.filter)
    if settings.backend == "redis":
        from confpy.backends.redis import RedisBackend

        return RedisBackend(
            settings.backend_nodes,
            # confd passes -client-key as the redis password (backends/client.go New).
            password=settings.password or settings.client_key,
            username=settings.username,
            separator=settings.separator,
        )
    if settings.backend == "zookeeper":
        from confpy.backends.zookeeper import ZookeeperBackend

        return ZookeeperBackend(settings.backend_nodes, connect_timeout=settings.connect_timeout)
    etcd: Callable[..., Backend]
    if settings.etcd_api == "http":  # etcd's JSON gateway: no gRPC imported
        from confpy.backends.etcd.gateway_backend import GatewayBackend as etcd
    else:
        from confpy.backends.etcd.backend import EtcdBackend as etcd
    return etcd(
        settings.backend_nodes,
        cert=settings.client_cert,
        key=settings.client_key,
        ca=settings.client_ca_keys,
        username=settings.username,
        password=settings.password,
        connect_timeout=settings.connect_timeout,
    )


def describe_backend(settings: Settings) -> str:
    """How messages name a backend: `etcdv3 (nodes http://127.0.0.1:2379)`, `file (files a.yaml)`."""
    if settings.backend == "file":
        return f"file (files {', '.join(settings.files)})"
    if settings.backend_nodes:
        return f"{settings.backend} (nodes {', '.join(settings.backend_nodes)})"
    return settings.backend


def backend_failed(resource: TemplateResource, settings: Settings, exc: ConfpyError) -> BackendError:
    """The one line that fails a resource whose own backend cannot be opened or read, naming both.

    Exit status 1 whatever the cause: the other resources ran (docs/operations.md, -onetime).
    """
    return BackendError(
        f"{resource.name}: backend {describe_backend(settings)}: {exc}", resource=resource.name
    )


class _HasResource(Protocol):
    @property
    def resource(self) -> TemplateResource: ...


_T = TypeVar("_T", bound=_HasResource)


def by_backend(settings: Settings, items: Iterable[_T]) -> list[tuple[Settings, list[_T]]]:
    """`items` (processors) grouped by the backend their resource reads, the global one first
    (present even with no item), each group in the items' order."""
    groups: dict[tuple[object, ...], tuple[Settings, list[_T]]] = {settings.connection: (settings, [])}
    for item in items:
        chosen = item.resource.backend or settings
        groups.setdefault(chosen.connection, (chosen, []))[1].append(item)
    return list(groups.values())


class BackendPool:
    """The backends of one run, one per distinct connection, opened on first use; `close()`
    closes them all."""

    def __init__(self) -> None:
        self._open: dict[tuple[object, ...], Backend] = {}

    def get(self, settings: Settings) -> Backend:
        """The backend `settings` name, shared with every earlier caller that named the same."""
        key = settings.connection
        if key not in self._open:
            self._open[key] = open_backend(settings)
        return self._open[key]

    def adopt(self, settings: Settings, backend: Backend) -> None:
        """Use `backend` (already open) for `settings`: `confpy exec -register`'s lease backend."""
        self._open.setdefault(settings.connection, backend)

    def close(self) -> None:
        backends, self._open = list(self._open.values()), {}
        for backend in backends:
            backend.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
