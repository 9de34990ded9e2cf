"""The etcd backend over etcd's JSON gateway (`-etcd-transport http`): `GatewayBackend`, what the
rest of confpy sees of that transport (through `Backend` and `LeaseBackend`, written once for both
transports in `common.EtcdCommon`); its requests go through `gateway.HttpConnection`, its leases
and writes through `gateway_lease.GatewayLeases`, its watches through `gateway_watch.GatewayWatches`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from confpy.backends.etcd.common import EtcdCommon, Options
from confpy.backends.etcd.gateway import HttpConnection, b64, from_b64
from confpy.backends.etcd.gateway_lease import GatewayLeases
from confpy.backends.etcd.gateway_watch import GatewayWatches
from confpy.backends.etcd.keys import describe, prefix_end
from confpy.backends.etcd.nodes import Node

__all__ = ["GatewayBackend"]


class GatewayBackend(EtcdCommon):
    """Reads and watches keys in etcd v3 through its JSON gateway: the same snapshot and events as
    `EtcdBackend`'s; leases and writes as `EtcdBackend`'s too."""

    _connection: HttpConnection

    def _transport(
        self, nodes: list[Node], options: Options
    ) -> tuple[HttpConnection, GatewayLeases, GatewayWatches]:
        connection = HttpConnection(nodes, **options._asdict())
        return connection, GatewayLeases(connection), GatewayWatches(connection)

    def _txn_ranges(self, prefixes: list[str], revision: int) -> tuple[int, Iterator[tuple[bytes, bytes]]]:
        ops = []
        for prefix in prefixes:
            start = prefix.encode() or b"\0"
            ranged: dict[str, Any] = {"key": b64(start), "range_end": b64(prefix_end(prefix.encode()))}
            if revision:
                ranged["revision"] = revision
            ops.append({"request_range": ranged})
        answer = self._connection.call(describe(prefixes), "/v3/kv/txn", {"success": ops})
        decode: Callable[[str], bytes] = from_b64
        kvs = (
            (decode(kv["key"]), decode(kv.get("value", "")))
            for item in answer.get("responses", ())
            for kv in item.get("response_range", {}).get("kvs", ())
        )
        return int(answer["header"]["revision"]), kvs
