"""The etcd backend over etcd's JSON gateway (`-etcd-transport http`): what the rest of confpy sees
of that transport, through `Backend` and `LeaseBackend`; its requests go through
`gateway.HttpConnection`, its leases and writes through `gateway_lease.GatewayLeases`, its
watches through `gateway_watch.GatewayWatches`."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from confpy.backends.base import EventCallback, LeaseBackend, Snapshot, Watch
from confpy.backends.etcd.gateway import HttpConnection, b64
from confpy.backends.etcd.gateway_lease import GatewayLeases
from confpy.backends.etcd.gateway_watch import GatewayWatches
from confpy.backends.etcd.keys import describe, prefix_end, read_pinned
from confpy.backends.etcd.nodes import check_options

__all__ = ["GatewayBackend"]


class GatewayBackend(LeaseBackend):
    """Reads and watches keys in etcd v3 through its JSON gateway: the same snapshot and events as
    `EtcdBackend`'s; leases and writes as `EtcdBackend`'s too."""

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
        self._leases = GatewayLeases(self._connection)
        self._watches = GatewayWatches(self._connection)

    @property
    def urls(self) -> str:
        return self._connection.urls

    def reconnect(self) -> None:
        self._connection.reconnect()

    def close(self) -> None:
        self._watches.close()
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

    # --- writes, for the sidecar commands --------------------------------------------------

    def put(self, key: str, value: str, lease_ttl: int | None = None) -> int:
        """Set `key`, with `lease_ttl` on a new lease that expires unless refreshed; returns the revision."""
        lease = 0 if lease_ttl is None else self._leases.grant(lease_ttl)[0]
        return self._leases.put_key(key, value, lease)

    def delete(self, key: str) -> int:
        """Delete `key` (no error when it is absent). Returns the revision."""
        return self._leases.delete(key)

    def put_if_absent(self, key: str, value: str) -> bool:
        """Create `key` only if it does not exist, atomically. True when this call created it."""
        return self._leases.put_if_absent(key, value)

    # --- leases, for `confpy register` and `confpy exec -register` ----------------------------

    def grant_lease(self, ttl: int) -> tuple[int, int]:
        return self._leases.grant(ttl)

    def put_on_lease(self, values: Mapping[str, str], lease: int) -> int:
        return self._leases.put(values, lease)

    def keep_alive(self, lease: int) -> int:
        return self._leases.keep_alive(lease)

    def revoke_lease(self, lease: int) -> bool:
        return self._leases.revoke(lease)

    # --- watch ---------------------------------------------------------------------------------

    def watch(self, prefix: str, start_revision: int, callback: EventCallback) -> Watch:
        """Stream changes under `prefix` from `start_revision` on (see `GatewayWatches.watch`)."""
        return self._watches.watch(prefix, start_revision, callback)
