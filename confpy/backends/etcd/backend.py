"""The etcd v3 backend: consistent reads, the sidecar commands' writes and leases, and watches.

`EtcdBackend` is what the rest of confpy sees (through `Backend` and `LeaseBackend`); it checks
its settings and hands the work on: requests go through `channel.Connection` (failover, retries,
auth, TLS), watches through `watch.WatchHub`, leases through `lease.Leases`. This package is the
only place that imports the etcd client (`pyetcd`, from etcd-sdk-python) and gRPC, and it uses
only the client's generated stubs, because the library's own endpoint choice, retries and watch
stream lock a failed node out for minutes, drop error details, and let a watch that etcd
cancelled look alive. Both are imported when a backend is made, so `import confpy` stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from confpy.backends.base import EventCallback, LeaseBackend, Snapshot, Watch
from confpy.backends.etcd.channel import Connection
from confpy.backends.etcd.keys import MAX_TXN_OPS, describe, prefix_end, read_pinned
from confpy.backends.etcd.lease import Leases
from confpy.backends.etcd.nodes import check_options
from confpy.backends.etcd.watch import WatchHub

__all__ = ["MAX_TXN_OPS", "EtcdBackend"]


class EtcdBackend(LeaseBackend):
    """Reads and watches keys in an etcd v3 cluster through its gRPC API.

    `timeout` bounds each request; `connect_timeout` bounds the retries of one operation across
    all endpoints (each endpoint is tried at least once), with exponential backoff.
    """

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
        self.connect_timeout = connect_timeout
        self._connection = Connection(
            self.nodes,
            cert=cert,
            key=key,
            ca=ca,
            username=username,
            password=password,
            timeout=timeout,
            connect_timeout=connect_timeout,
        )
        self._watches = WatchHub(self._connection)
        self._leases = Leases(self._connection)

    @property
    def urls(self) -> str:
        return self._connection.urls

    def reconnect(self) -> None:
        """Fresh connections to every endpoint, so a watch resumes through a new client, never a
        possibly wedged one. The watch stream, if still running, keeps its old connection until it
        ends; the next one opens on the new. Many watches failing together (an etcd restart)
        cause one reconnect per RECONNECT_INTERVAL."""
        self._connection.reconnect()

    def close(self) -> None:
        self._watches.close()
        self._connection.close()

    # --- reads -------------------------------------------------------------------------------

    def read(self, prefixes: Sequence[str], revision: int | None = None) -> Snapshot:
        """Every key under `prefixes` as one snapshot, at `revision` or at the current one (`read_pinned`)."""
        return read_pinned(prefixes, revision, self.urls, self._txn_ranges)

    def _txn_ranges(self, prefixes: list[str], revision: int) -> tuple[int, Iterator[tuple[bytes, bytes]]]:
        rpc = self._connection.rpc
        ops = []
        for prefix in prefixes:
            start = prefix.encode() or b"\0"
            request = rpc.RangeRequest(key=start, range_end=prefix_end(prefix.encode()), revision=revision)
            ops.append(rpc.RequestOp(request_range=request))
        txn = rpc.TxnRequest(success=ops)
        response = self._connection.call(
            describe(prefixes),
            lambda channel, md: rpc.KVStub(channel).Txn(txn, self.timeout, metadata=md),
        )
        kvs = ((kv.key, kv.value) for item in response.responses for kv in item.response_range.kvs)
        return int(response.header.revision), kvs

    # --- writes, for the sidecar commands --------------------------------------------------

    def put(self, key: str, value: str, lease_ttl: int | None = None) -> int:
        """Set `key`, with `lease_ttl` on a new lease that expires unless refreshed; returns the revision."""
        lease = 0 if lease_ttl is None else self._leases.grant(lease_ttl)[0]
        rpc = self._connection.rpc
        request = rpc.PutRequest(key=key.encode(), value=value.encode(), lease=lease)
        response = self._connection.call(
            f"write of {key}", lambda channel, md: rpc.KVStub(channel).Put(request, self.timeout, metadata=md)
        )
        return int(response.header.revision)

    def delete(self, key: str) -> int:
        """Delete `key` (no error when it is absent). Returns the revision."""
        rpc = self._connection.rpc
        request = rpc.DeleteRangeRequest(key=key.encode())
        response = self._connection.call(
            f"delete of {key}",
            lambda channel, md: rpc.KVStub(channel).DeleteRange(request, self.timeout, metadata=md),
        )
        return int(response.header.revision)

    def put_if_absent(self, key: str, value: str) -> bool:
        """Create `key` only if it does not exist, atomically. True when this call created it."""
        rpc = self._connection.rpc
        absent = rpc.Compare(
            key=key.encode(), target=rpc.Compare.CREATE, result=rpc.Compare.EQUAL, create_revision=0
        )
        put = rpc.RequestOp(request_put=rpc.PutRequest(key=key.encode(), value=value.encode()))
        txn = rpc.TxnRequest(compare=[absent], success=[put])
        response = self._connection.call(
            f"create of {key}", lambda channel, md: rpc.KVStub(channel).Txn(txn, self.timeout, metadata=md)
        )
        return bool(response.succeeded)

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
        """Stream changes under `prefix` from `start_revision` on (see `WatchHub.watch`)."""
        return self._watches.watch(prefix, start_revision, callback)
