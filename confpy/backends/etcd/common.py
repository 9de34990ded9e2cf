"""What both etcd transports' backends are to the rest of confpy, written once: `EtcdCommon`, the
`Backend` and `LeaseBackend` faces over a transport's parts (its connection, its leases and
writes, its watches), which `backend.EtcdBackend` (gRPC) and `gateway_backend.GatewayBackend` (the
JSON gateway) each make, with the one request each builds itself: the consistent read's ranges.
It imports neither gRPC nor HTTP.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping, Sequence
from typing import NamedTuple, Protocol

from confpy.backends.base import EventCallback, LeaseBackend, Snapshot, Watch
from confpy.backends.etcd.keys import read_pinned
from confpy.backends.etcd.nodes import Node, check_options

__all__ = ["EtcdCommon", "Leases", "Options", "Watches"]


class Options(NamedTuple):
    """How to reach the endpoints: what a transport's connection is made with."""

    cert: str | None
    key: str | None
    ca: str | None
    username: str | None
    password: str | None
    timeout: float
    connect_timeout: float


class Connection(Protocol):
    @property
    def urls(self) -> str: ...
    def reconnect(self) -> None: ...
    def close(self) -> None: ...


class Leases(Protocol):
    """A transport's lease requests and the sidecar's writes (`lease.Leases`, `gateway_lease`'s)."""

    def put_key(self, key: str, value: str, lease: int = 0) -> int: ...
    def delete(self, key: str) -> int: ...
    def put_if_absent(self, key: str, value: str) -> bool: ...
    def grant(self, ttl: int) -> tuple[int, int]: ...
    def put(self, values: Mapping[str, str], lease: int) -> int: ...
    def keep_alive(self, lease: int) -> int: ...
    def revoke(self, lease: int) -> bool: ...


class Watches(Protocol):
    def watch(self, prefix: str, start_revision: int, callback: EventCallback) -> Watch: ...
    def close(self) -> None: ...


class EtcdCommon(LeaseBackend):
    """Reads, writes, leases and watches of keys in an etcd v3 cluster, over one transport.

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
        options = Options(cert, key, ca, username, password, timeout, connect_timeout)
        self._connection, self._leases, self._watches = self._transport(self.nodes, options)

    @abc.abstractmethod
    def _transport(self, nodes: list[Node], options: Options) -> tuple[Connection, Leases, Watches]:
        """The transport's connection, and its leases (and writes) and watches over it."""

    @abc.abstractmethod
    def _txn_ranges(self, prefixes: list[str], revision: int) -> tuple[int, Iterator[tuple[bytes, bytes]]]:
        """One transaction of range requests, one per prefix, at `revision` (0: the current one):
        its revision, and each key and value found (`keys.read_pinned` batches and pins them)."""

    @property
    def urls(self) -> str:
        return self._connection.urls

    def reconnect(self) -> None:
        """Fresh connections for what comes next (a watch resumes through a new one)."""
        self._connection.reconnect()

    def close(self) -> None:
        self._watches.close()
        self._connection.close()

    def read(self, prefixes: Sequence[str], revision: int | None = None) -> Snapshot:
        """Every key under `prefixes` as one snapshot, at `revision` or at the current one (`read_pinned`)."""
        return read_pinned(prefixes, revision, self.urls, self._txn_ranges)

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
        """Stream changes under `prefix` from `start_revision` on: returns once etcd has confirmed
        the watch; each later failure reaches `callback` as one error (`watch.WatchHub.watch`)."""
        return self._watches.watch(prefix, start_revision, callback)
