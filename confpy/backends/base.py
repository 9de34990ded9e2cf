"""The interface every backend implements: a consistent read, and a watch from a revision.

confpy's own modules talk to backends only through this interface, so the etcd client library
stays inside the `backends/etcd/` package and tests can use the memory backend instead. Backends
that can keep keys alive only as long as their owner (etcd, memory) also implement
`LeaseBackend`, which `confpy register` and `confpy exec -register` need.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import NamedTuple, Self

from confpy.errors import BackendError, ValueDecodeError

__all__ = [
    "Backend",
    "Event",
    "EventCallback",
    "LeaseBackend",
    "ReadSequence",
    "Snapshot",
    "Watch",
    "decode_value",
]


class Snapshot(NamedTuple):
    """Every key under some prefixes, as of one revision (0 where the backend has none)."""

    values: dict[str, str]
    revision: int = 0


class Event(NamedTuple):
    """One change: `value` None means the key was deleted; `revision` is the change's mod_revision."""

    key: str
    value: str | None
    revision: int


EventCallback = Callable[[list[Event] | BackendError], None]
"""Receives each batch of events in revision order, or the error that ended the watch.

It is called on the backend's own thread: it must only hand the batch over (enqueue), never work.
After an error no further call comes; the caller resumes with a new watch.

An empty batch says "something under the prefix changed, read it again": backends whose server
keeps no revision to stream events from (redis, zookeeper) deliver one as soon as the watch is
in place (so a change made before it, or while disconnected, is not missed) and one after each
notification; watch mode then re-reads every key, as confd's watch does after WatchPrefix returns.
"""


class Watch:
    """A running watch; `cancel()` stops it (idempotent) and no callback follows."""

    __slots__ = ("cancel",)

    def __init__(self, cancel: Callable[[], None] = lambda: None) -> None:
        self.cancel = cancel


def decode_value(key: str, raw: bytes) -> str:
    """Values are text: anything that is not UTF-8 is reported with its key."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueDecodeError(key) from None


class Backend(abc.ABC):
    """A source of keys. `read` is one consistent snapshot; `watch` streams changes after it."""

    name: str = "backend"
    #: False for backends that cannot stream changes (watch mode then polls them).
    supports_watch: bool = True
    #: False where `read(["/app"])` is not every key under `/app` (confd's redis and zookeeper
    #: mappings: a redis string `/app` hides what is below it): those are read key by key.
    prefix_reads: bool = True

    @abc.abstractmethod
    def read(self, prefixes: Sequence[str]) -> Snapshot:
        """All keys that start with any of `prefixes` (plain string prefixes, as etcd's), at one revision."""

    def watch(self, prefix: str, start_revision: int, callback: EventCallback) -> Watch:
        """Stream every change under `prefix` from `start_revision` (inclusive) to `callback`."""
        raise BackendError(f"the {self.name} backend cannot watch for changes")

    def reconnect(self) -> None:  # noqa: B027 - optional hook, most backends hold no connection
        """Use fresh connections from now on (watch mode calls this before resuming a watch)."""

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release connections and threads."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ReadSequence:
    """Numbers the reads of a server without revisions, one read at a time.

    A read numbered higher started after the lower one ended, so it never holds an older state
    of any key: watch mode, which applies a snapshot only if its number is not below what it
    holds, then never goes backwards (a linearizable server assumed: redis, zookeeper after sync).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    @contextmanager
    def next(self) -> Iterator[int]:
        with self._lock:
            self._last += 1
            yield self._last


class LeaseBackend(Backend):
    """A backend whose keys can live on a lease: they are deleted when it expires or is revoked.

    A lease is granted for a TTL and expires unless refreshed within it; watchers see the deletes
    of its keys as ordinary events. `confpy register` refreshes every TTL/3 and, when a refresh
    finds the lease gone, grants a new one and puts the keys again.
    """

    @abc.abstractmethod
    def grant_lease(self, ttl: int) -> tuple[int, int]:
        """A new lease of `ttl` seconds: its ID, and the TTL granted (a backend may round it up)."""

    @abc.abstractmethod
    def put_on_lease(self, values: Mapping[str, str], lease: int) -> int:
        """Set every key of `values` on `lease`, as one change; returns its revision.

        A lease that no longer exists is a BackendError ("requested lease not found").
        """

    @abc.abstractmethod
    def keep_alive(self, lease: int) -> int:
        """Refresh `lease` once; the seconds it has left, 0 when it has expired or was revoked."""

    @abc.abstractmethod
    def revoke_lease(self, lease: int) -> bool:
        """Revoke `lease`, which deletes every key on it; False when it was already gone."""
