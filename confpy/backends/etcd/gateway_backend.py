"""The etcd backend over etcd's JSON gateway (`-etcd-transport http`): what the rest of confpy sees
of that transport, through `Backend`; its requests go through `gateway.HttpConnection`."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from confpy.backends.base import Backend, Snapshot
from confpy.backends.etcd.gateway import HttpConnection, b64
from confpy.backends.etcd.keys import describe, prefix_end, read_pinned
from confpy.backends.etcd.nodes import check_options

__all__ = ["GatewayBackend"]


class GatewayBackend(Backend):
    """Reads keys from etcd v3 through its JSON gateway: the same snapshot as `EtcdBackend`'s."""

    name = "etcd"

    def __init__(
        self,
        nodes: Sequence[str],
        *,
        cert: str | None = None,
        key: str | None = None,
        ca: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 5.0,
        connect_timeout: float = 5.0,
    ) -> None:
        self.nodes = check_options(nodes, cert, key, ca, username, password)
        self.timeout = timeout
        self._connection = HttpConnection(
            self.nodes,
            cert=cert,
            key=key,
            ca=ca,
            username=username,
            password=password,
            timeout=timeout,
            connect_timeout=connect_timeout,
        )

    @property
    def urls(self) -> str:
        return self._connection.urls

    def reconnect(self) -> None:
        self._connection.reconnect()

    def close(self) -> None:
        self._connection.close()

    def read(self, prefixes: Sequence[str], revision: int | None = None) -> Snapshot:
        """Every key under `prefixes` as one snapshot, at `revision` or at the current one (`read_pinned`)."""
        return read_pinned(prefixes, revision, self.urls, self._txn_ranges)

    def _txn_ranges(self, prefixes: list[str], revision: int) -> tuple[int, Iterator[tuple[bytes, bytes]]]:
        ops = []
        for prefix in prefixes:
            start = prefix.encode() or b"\0"
            ranged: dict[str, Any] = {"key": b64(start), "range_end": b64(prefix_end(prefix.encode()))}
            if revision:
                ranged["revision"] = revision
            ops.append({"request_range": ranged})
        answer = self._connection.call(describe(prefixes), "/v3/kv/txn", {"success": ops})
        decode: Callable[[str], bytes] = base64.b64decode
        kvs = (
            (decode(kv["key"]), decode(kv.get("value", "")))
            for item in answer.get("responses", ())
            for kv in item.get("response_range", {}).get("kvs", ())
        )
        return int(answer["header"]["revision"]), kvs
