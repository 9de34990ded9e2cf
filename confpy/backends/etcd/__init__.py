"""The etcd v3 backend, one job per module, in the order a request meets them:

- `nodes`: the `-node` values parsed (also settings' check of them; imports no gRPC);
- `keys`: a prefix as etcd's key range, keys and events decoded to text;
- `common`: `EtcdCommon`, the face the rest of confpy sees (reads, writes, leases, watches),
  once for both transports, over a transport's parts:
- over gRPC: `channel` (TLS, a gRPC channel per endpoint, keepalive and hasleader, failover, auth
  tokens, retries, and what each gRPC error means for the user), `lease` (grant, put on a lease,
  keep alive, revoke, for `confpy register`; and the writes), `watch` (every watch of a backend on
  one multiplexed gRPC Watch stream), `backend` (`EtcdBackend`: the above, and its reads);
- over etcd's JSON gateway (`-etcd-transport http`, and `auto`'s choice), with the standard
  library and no gRPC: `http11` (the HTTP/1.1 it needs), `gateway` (`HttpConnection`: the
  requests, as `channel` is gRPC's), `gateway_lease` (as `lease`), `gateway_watch` (a streaming
  request per watch, and a status check of their endpoints), `gateway_backend` (`GatewayBackend`,
  as `backend`).

The only package that imports the etcd client (`pyetcd`) and gRPC, when a backend is made.

Its layer: `confpy.backends`'s; confpy.config reaches in to open it (`open_backend`) and to check
`-node` (`nodes`).
"""

from __future__ import annotations

__all__: list[str] = []
