"""The backend the settings name, opened; imported lazily so that `confpy --help` stays fast."""

from __future__ import annotations

from confpy.backends.base import Backend
from confpy.config.settings import Settings

__all__ = ["open_backend"]


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
            password=settings.password,
            username=settings.username,
            separator=settings.separator,
        )
    if settings.backend == "zookeeper":
        from confpy.backends.zookeeper import ZookeeperBackend

        return ZookeeperBackend(settings.backend_nodes, connect_timeout=settings.connect_timeout)
    from confpy.backends.etcd.backend import EtcdBackend

    return EtcdBackend(
        settings.backend_nodes,
        cert=settings.client_cert,
        key=settings.client_key,
        ca=settings.client_ca_keys,
        username=settings.username,
        password=settings.password,
        connect_timeout=settings.connect_timeout,
    )
