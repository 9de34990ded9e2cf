"""etcd's leases, for `confpy register` and `confpy exec -register`: the etcd side of
`LeaseBackend` (grant, put on a lease, one keep-alive round trip, revoke), and the sidecar's
writes, over the backend's `Connection`. Keeping a lease alive every TTL/3 is the registration's
job (sidecar/register.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from confpy.backends.etcd.channel import Connection, Metadata, NotFound, Transient
from confpy.errors import BackendError

__all__ = ["Leases"]


class Leases:
    """The lease and write requests of one `EtcdBackend`."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def grant(self, ttl: int) -> tuple[int, int]:
        """A new lease of `ttl` seconds: its ID, and the TTL etcd granted (it rounds tiny ones up)."""
        conn = self._connection
        rpc = conn.rpc
        request = rpc.LeaseGrantRequest(TTL=ttl)
        response = conn.call(
            f"grant of a {ttl} s lease",
            lambda channel, md: rpc.LeaseStub(channel).LeaseGrant(request, conn.timeout, metadata=md),
        )
        if response.error:
            raise BackendError(f"etcd at {conn.urls} refused a {ttl} s lease: {response.error}")
        return int(response.ID), int(response.TTL)

    def put(self, values: Mapping[str, str], lease: int) -> int:
        """Set every key of `values` on `lease`, in one transaction; returns the revision.

        A lease that no longer exists is an error (etcd's "requested lease not found").
        """
        conn = self._connection
        rpc = conn.rpc
        puts = [
            rpc.RequestOp(request_put=rpc.PutRequest(key=k.encode(), value=v.encode(), lease=lease))
            for k, v in values.items()
        ]
        txn = rpc.TxnRequest(success=puts)
        response = conn.call(
            f"write of {', '.join(values)}",
            lambda channel, md: rpc.KVStub(channel).Txn(txn, conn.timeout, metadata=md),
        )
        return int(response.header.revision)

    def keep_alive(self, lease: int) -> int:
        """Refresh `lease` once; the seconds it has left, 0 when it has expired or was revoked.

        One round trip on etcd's keep-alive stream, so callers refresh every TTL/3 themselves; etcd
        answers a lost lease with TTL 0, not with an error.
        """
        conn = self._connection
        rpc = conn.rpc
        request = rpc.LeaseKeepAliveRequest(ID=lease)

        def refresh(channel: Any, md: Metadata) -> int:
            stub = rpc.LeaseStub(channel)
            for response in stub.LeaseKeepAlive(iter([request]), conn.timeout, metadata=md):
                return int(response.TTL)
            raise Transient("etcd ended the keep-alive stream without an answer")

        return conn.call(f"keep-alive of lease {lease:x}", refresh)

    def revoke(self, lease: int) -> bool:
        """Revoke `lease`, which deletes every key on it; False when it was already gone."""
        conn = self._connection
        rpc = conn.rpc
        request = rpc.LeaseRevokeRequest(ID=lease)
        try:
            conn.call(
                f"revoke of lease {lease:x}",
                lambda channel, md: rpc.LeaseStub(channel).LeaseRevoke(request, conn.timeout, metadata=md),
            )
        except NotFound:
            return False
        return True

    # --- writes, for the sidecar commands --------------------------------------------------

    def put_key(self, key: str, value: str, lease: int = 0) -> int:
        """Set `key` (on `lease`, unless 0); returns the revision."""
        conn = self._connection
        rpc = conn.rpc
        request = rpc.PutRequest(key=key.encode(), value=value.encode(), lease=lease)
        response = conn.call(
            f"write of {key}", lambda channel, md: rpc.KVStub(channel).Put(request, conn.timeout, metadata=md)
        )
        return int(response.header.revision)

    def delete(self, key: str) -> int:
        """Delete `key` (no error when it is absent). Returns the revision."""
        conn = self._connection
        rpc = conn.rpc
        request = rpc.DeleteRangeRequest(key=key.encode())
        response = conn.call(
            f"delete of {key}",
            lambda channel, md: rpc.KVStub(channel).DeleteRange(request, conn.timeout, metadata=md),
        )
        return int(response.header.revision)

    def put_if_absent(self, key: str, value: str) -> bool:
        """Create `key` only if it does not exist, atomically. True when this call created it."""
        conn = self._connection
        rpc = conn.rpc
        absent = rpc.Compare(
            key=key.encode(), target=rpc.Compare.CREATE, result=rpc.Compare.EQUAL, create_revision=0
        )
        put = rpc.RequestOp(request_put=rpc.PutRequest(key=key.encode(), value=value.encode()))
        txn = rpc.TxnRequest(compare=[absent], success=[put])
        response = conn.call(
            f"create of {key}", lambda channel, md: rpc.KVStub(channel).Txn(txn, conn.timeout, metadata=md)
        )
        return bool(response.succeeded)
