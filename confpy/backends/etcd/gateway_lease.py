"""etcd's leases and the sidecar's writes over etcd's JSON gateway: `GatewayBackend`'s side of
`LeaseBackend`, as `lease.py` is `EtcdBackend`'s, with the same semantics. Each request is one
`call` of the backend's `gateway.HttpConnection`, so failover, a new login when etcd forgot the
token, bounded retries and the meaning of etcd's errors are the reads'.

The requests and answers, as verified with curl against Debian's etcd 3.4.23 (and by
tests/system/backends/test_etcd.py, test_auth.py and tests/system/sidecar/ over both transports):

- int64 fields (IDs, TTLs, revisions) are JSON strings in answers and are sent as strings; keys
  and values are base64; a field that is zero, false or empty is left out of an answer.
- `POST /v3/lease/grant {"TTL": 5}` answers `{"header": {...}, "ID": "4111...", "TTL": "5"}`;
  etcd grants a TTL of 0 or 1 as 2 (`"TTL": "2"`); one too large is code 11 ("etcdserver: too
  large lease TTL").
- `POST /v3/lease/keepalive {"ID": "..."}` is etcd's keep-alive stream, given one request: the
  body ends after it and the answer is one line, `{"result": {"header": {...}, "ID": "...",
  "TTL": "30"}}`. A lease that expired or was revoked has no "TTL" (0), not an error. The
  stream's errors have a shape of their own, `{"error": {"grpc_code": 14, "http_code": 503,
  "message": "etcdserver: no leader", "http_status": "Service Unavailable"}}` (a member without
  a leader, with the hasleader header), which `HttpConnection.post` reads as the others.
- `POST /v3/lease/revoke {"ID": "..."}` answers `{"header": {...}}`; a lease that is gone is HTTP
  404 with `{"error": "etcdserver: requested lease not found", "message": "etcdserver:
  requested lease not found", "code": 5}` (NOT_FOUND: `channel.NotFound`).
- `POST /v3/kv/txn` with `{"success": [{"request_put": {"key", "value", "lease": "..."}}]}`
  answers `{"header": {"revision": "4"}, "succeeded": true, "responses": [...]}`; on a lease that
  is gone, the same 404 and code 5 as revoke. With `"compare": [{"key", "target": "CREATE",
  "result": "EQUAL", "create_revision": "0"}]` on a key that exists, "succeeded" is absent.
- `POST /v3/kv/put {"key", "value"}` answers `{"header": {"revision": "2"}}`; `POST
  /v3/kv/deleterange {"key"}` answers `{"header": {...}, "deleted": "1"}`, without "deleted" for
  a key that does not exist.
- With auth on, grant, revoke and the writes refuse a token etcd forgot (code 16, "etcdserver:
  invalid auth token": a new login, then the request again); keep-alive does not check tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from confpy.backends.etcd.channel import NotFound
from confpy.backends.etcd.gateway import HttpConnection, b64
from confpy.errors import BackendError

__all__ = ["GatewayLeases"]


def _b64_text(text: str) -> str:
    return b64(text.encode())


def _revision(answer: Mapping[str, Any]) -> int:
    return int(answer["header"]["revision"])


class GatewayLeases:
    """The lease and write requests of one `GatewayBackend`."""

    def __init__(self, connection: HttpConnection) -> None:
        self._connection = connection

    def grant(self, ttl: int) -> tuple[int, int]:
        """A new lease of `ttl` seconds: its ID, and the TTL etcd granted (it rounds tiny ones up)."""
        answer = self._connection.call(f"grant of a {ttl} s lease", "/v3/lease/grant", {"TTL": ttl})
        if answer.get("error"):
            raise BackendError(f"etcd at {self._connection.urls} refused a {ttl} s lease: {answer['error']}")
        return int(answer["ID"]), int(answer.get("TTL", 0))

    def put(self, values: Mapping[str, str], lease: int) -> int:
        """Set every key of `values` on `lease`, in one transaction; returns the revision.

        A lease that no longer exists is an error (etcd's "requested lease not found").
        """
        puts = [
            {"request_put": {"key": _b64_text(k), "value": _b64_text(v), "lease": str(lease)}}
            for k, v in values.items()
        ]
        return _revision(
            self._connection.call(f"write of {', '.join(values)}", "/v3/kv/txn", {"success": puts})
        )

    def keep_alive(self, lease: int) -> int:
        """Refresh `lease` once; the seconds it has left, 0 when it has expired or was revoked."""
        answer = self._connection.call(
            f"keep-alive of lease {lease:x}", "/v3/lease/keepalive", {"ID": str(lease)}
        )
        return int(answer["result"].get("TTL", 0))

    def revoke(self, lease: int) -> bool:
        """Revoke `lease`, which deletes every key on it; False when it was already gone."""
        try:
            self._connection.call(f"revoke of lease {lease:x}", "/v3/lease/revoke", {"ID": str(lease)})
        except NotFound:
            return False
        return True

    # --- writes, for the sidecar commands --------------------------------------------------

    def put_key(self, key: str, value: str, lease: int = 0) -> int:
        """Set `key` (on `lease`, unless 0); returns the revision."""
        body = {"key": _b64_text(key), "value": _b64_text(value)}
        if lease:
            body["lease"] = str(lease)
        return _revision(self._connection.call(f"write of {key}", "/v3/kv/put", body))

    def delete(self, key: str) -> int:
        """Delete `key` (no error when it is absent). Returns the revision."""
        return _revision(
            self._connection.call(f"delete of {key}", "/v3/kv/deleterange", {"key": _b64_text(key)})
        )

    def put_if_absent(self, key: str, value: str) -> bool:
        """Create `key` only if it does not exist, atomically. True when this call created it."""
        absent = {"key": _b64_text(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}
        txn = {
            "compare": [absent],
            "success": [{"request_put": {"key": _b64_text(key), "value": _b64_text(value)}}],
        }
        answer = self._connection.call(f"create of {key}", "/v3/kv/txn", txn)
        return bool(answer.get("succeeded", False))
