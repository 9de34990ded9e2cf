"""The etcd v3 backend over gRPC: `EtcdBackend`, what the rest of confpy sees (through `Backend`
and `LeaseBackend`, written once for both transports in `common.EtcdCommon`).

Requests go through `channel.Connection` (failover, retries, auth, TLS), watches through
`watch.WatchHub`, leases and writes through `lease.Leases`. This package is the only place that
imports the etcd client (`pyetcd`, from etcd-sdk-python) and gRPC, and it uses only the client's
generated stubs, because the library's own endpoint choice, retries and watch stream lock a failed
node out for minutes, drop error details, and let a watch that etcd cancelled look alive. Both
are imported when a backend is made, so `import confpy` stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator

from confpy.backends.etcd.channel import Connection
from confpy.backends.etcd.common import EtcdCommon, Options
from confpy.backends.etcd.keys import MAX_TXN_OPS, describe, prefix_end
from confpy.backends.etcd.lease import Leases
from confpy.backends.etcd.nodes import Node
from confpy.backends.etcd.watch import WatchHub

__all__ = ["MAX_TXN_OPS", "EtcdBackend"]


class EtcdBackend(EtcdCommon):
    """Reads and watches keys in an etcd v3 cluster through its gRPC API.

    `reconnect()` gives fresh channels to every endpoint, so a watch resumes through a new client,
    never a possibly wedged one. The watch stream, if still running, keeps its old channel until it
    ends; the next one opens on the new. Many watches failing together (an etcd restart) cause one
    reconnect per RECONNECT_INTERVAL.
    """

    _connection: Connection

    def _transport(self, nodes: list[Node], options: Options) -> tuple[Connection, Leases, WatchHub]:
        connection = Connection(nodes, **options._asdict())
        return connection, Leases(connection), WatchHub(connection)

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
