"""The zookeeper backend: znodes read exactly as confd's zookeeper client reads them.

confd (backends/zookeeper/client.go, GetValues and nodeWalk), for each resource key: a znode
without children is one key, its data the value; a znode with children is walked, and only its
leaves (znodes without children) become keys: the data of a znode that has children is not
read. `-node host:port` is repeatable (one ensemble). kazoo is imported only when this backend
is used. Watch mode re-reads every `-interval` (confpy says so at start).

Better than confd: a key that does not exist reads as no keys (confd's nodeWalk fails the whole
run with "zk: node does not exist"), a znode deleted during the walk is skipped (confd
dereferences a nil stat and crashes), and an unreachable ensemble is one error line after
`-connect-timeout` (confd's zk.Connect returns at once and every read then hangs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from confpy.backends.base import Backend, Snapshot, decode_value
from confpy.errors import BackendError, ConfigError

__all__ = ["ZookeeperBackend", "parse_zookeeper_node"]


def parse_zookeeper_node(node: str) -> str:
    """`host:port`, as confd passes it to zk.Connect; anything else is refused in one line."""
    host, colon, port = node.rpartition(":")
    if not colon or not host or "/" in node or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"-node {node!r}: expected host:port for the zookeeper backend")
    return node


def _znode(key: str) -> str:
    """confd's `strings.Replace(v, "/*", "", -1)`, and no trailing `/` (zookeeper refuses it)."""
    return key.replace("/*", "").rstrip("/") or "/"


class ZookeeperBackend(Backend):
    """One kazoo session to the ensemble `nodes`, opened at the first read."""

    name = "zookeeper"
    supports_watch = False

    def __init__(self, nodes: Sequence[str], *, connect_timeout: float = 5.0) -> None:
        self.hosts = ",".join(parse_zookeeper_node(n) for n in (nodes or ["127.0.0.1:2181"]))
        self.connect_timeout = connect_timeout
        self._client: Any = None

    def _connected(self) -> Any:
        if self._client is None:
            from kazoo.client import KazooClient
            from kazoo.handlers.threading import KazooTimeoutError

            client = KazooClient(hosts=self.hosts, timeout=max(self.connect_timeout, 1.0))
            try:
                client.start(timeout=self.connect_timeout)
            except KazooTimeoutError:
                client.stop()
                client.close()
                raise BackendError(
                    f"cannot reach zookeeper at {self.hosts} within {self.connect_timeout:g} s"
                ) from None
            self._client = client
        return self._client

    def read(self, prefixes: Sequence[str]) -> Snapshot:
        from kazoo.exceptions import KazooException

        client = self._connected()
        found: dict[str, str] = {}
        try:
            for key in prefixes:
                self._walk(client, _znode(key), found)
        except KazooException as exc:
            self.reconnect()
            raise BackendError(f"reading from zookeeper failed: {exc!r}") from None
        return Snapshot(found)

    def _walk(self, client: Any, path: str, found: dict[str, str]) -> None:
        """confd's nodeWalk: leaves are keys; a missing or vanished znode is skipped."""
        from kazoo.exceptions import NoNodeError

        try:
            children = client.get_children(path)
            if not children:
                found[path] = decode_value(path, client.get(path)[0] or b"")
                return
            for name in children:
                self._walk(client, ("" if path == "/" else path) + "/" + name, found)
        except NoNodeError:
            return

    def reconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.stop()
            client.close()

    def close(self) -> None:
        self.reconnect()
