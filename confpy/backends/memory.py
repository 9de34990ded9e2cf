"""An in-memory backend with revisions, watches and leases: for tests and for embedding confpy.

It behaves like etcd where confpy relies on it: every change gets the next revision, reads are
consistent snapshots, a watch delivers every change from its start revision on, in order, and
the keys on a lease are deleted (as one change, which watchers see) when it expires or is
revoked, so `confpy register`'s `Registration` runs on it as on etcd.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from confpy.backends.base import Event, EventCallback, LeaseBackend, Snapshot, Watch
from confpy.errors import BackendError, RevisionCompactedError

__all__ = ["MemoryBackend"]


@dataclass
class _Lease:
    ttl: int
    deadline: float
    keys: set[str] = field(default_factory=set)


class MemoryBackend(LeaseBackend):
    """Keys in a dict, a revision counter, and a history for watches to replay.

    Leases expire by `clock` (monotonic seconds): a thread started with the first lease deletes
    their keys on time; a test that brings its own clock calls `expire_leases()` instead.
    """

    name = "memory"

    def __init__(
        self, values: Mapping[str, str] | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._leases: dict[int, _Lease] = {}
        self._lease_of: dict[str, int] = {}
        self._next_lease = 1
        # Wakes the reaper thread when a lease may now expire sooner, or the backend closes.
        self._wake = threading.Condition(self._lock)
        self._reaper: threading.Thread | None = None
        self._closed = False
        self._values: dict[str, str] = {}
        self._history: list[Event] = []
        self._watchers: dict[int, tuple[str, EventCallback]] = {}
        self._next_watch = 0
        self._compacted = 0
        self.revision = 1
        if values:
            self.put_many(values)

    def put(self, key: str, value: str) -> int:
        return self.put_many({key: value})

    def put_many(self, values: Mapping[str, str]) -> int:
        """Apply several puts as one revision, like an etcd transaction."""
        return self._apply([(k, v) for k, v in values.items()])

    def delete(self, key: str) -> int:
        return self._apply([(key, None)])

    def compact(self, revision: int) -> None:
        """Forget history before `revision`; watches from older revisions then fail."""
        with self._lock:
            self._compacted = revision
            self._history = [e for e in self._history if e.revision >= revision]

    def fail_watches(self, message: str = "connection lost") -> None:
        """End every watch with an error, as a dropped connection would: for resume tests."""
        with self._lock:
            watchers = list(self._watchers.values())
            self._watchers.clear()
        for _prefix, callback in watchers:
            callback(BackendError(message))

    def _apply(self, changes: list[tuple[str, str | None]], lease: int = 0) -> int:
        with self._lock:
            return self._apply_locked(changes, lease)

    def _apply_locked(self, changes: list[tuple[str, str | None]], lease: int = 0) -> int:
        """One revision of puts (on `lease`, 0 for none) and deletes (value None); a put without
        a lease takes the key off its old one, as etcd's does."""
        self.revision += 1
        events = []
        for key, value in changes:
            old = self._lease_of.pop(key, 0)
            if old in self._leases:
                self._leases[old].keys.discard(key)
            if value is None:
                if self._values.pop(key, None) is None:
                    continue
            else:
                self._values[key] = value
                if lease:
                    self._lease_of[key] = lease
                    self._leases[lease].keys.add(key)
            events.append(Event(key, value, self.revision))
        self._history.extend(events)
        watchers = list(self._watchers.values())
        for prefix, callback in watchers:
            batch = [e for e in events if e.key.startswith(prefix)]
            if batch:
                callback(batch)
        return self.revision

    # --- leases ---------------------------------------------------------------------------------

    def grant_lease(self, ttl: int) -> tuple[int, int]:
        with self._lock:
            lease = self._next_lease
            self._next_lease += 1
            self._leases[lease] = _Lease(ttl, self._clock() + ttl)
            if self._reaper is None:
                self._reaper = threading.Thread(target=self._reap, name="confpy-memory-leases", daemon=True)
                self._reaper.start()
            self._wake.notify()
            return lease, ttl

    def put_on_lease(self, values: Mapping[str, str], lease: int) -> int:
        with self._lock:
            self._expire_locked()
            if lease not in self._leases:
                raise BackendError(f"write of {', '.join(values)} failed: requested lease not found")
            return self._apply_locked(list(values.items()), lease)

    def keep_alive(self, lease: int) -> int:
        with self._lock:
            self._expire_locked()
            held = self._leases.get(lease)
            if held is None:
                return 0
            held.deadline = self._clock() + held.ttl
            return held.ttl

    def revoke_lease(self, lease: int) -> bool:
        with self._lock:
            self._expire_locked()
            return self._end_lease(lease)

    def expire_leases(self) -> None:
        """Delete the keys of every lease whose TTL has run out by the clock."""
        with self._lock:
            self._expire_locked()

    def _expire_locked(self) -> None:
        now = self._clock()
        for lease in [n for n, held in self._leases.items() if held.deadline <= now]:
            self._end_lease(lease)

    def _end_lease(self, lease: int) -> bool:
        held = self._leases.pop(lease, None)
        if held is None:
            return False
        if held.keys:
            self._apply_locked([(key, None) for key in sorted(held.keys)])
        return True

    def _reap(self) -> None:
        with self._lock:
            while not self._closed:
                self._expire_locked()
                first = min((held.deadline for held in self._leases.values()), default=None)
                self._wake.wait(None if first is None else max(0.0, first - self._clock()))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify()

    def read(self, prefixes: Sequence[str]) -> Snapshot:
        with self._lock:
            values = {k: v for k, v in self._values.items() if any(k.startswith(p) for p in prefixes)}
            return Snapshot(values, self.revision)

    def watch(self, prefix: str, start_revision: int, callback: EventCallback) -> Watch:
        with self._lock:
            if start_revision and start_revision < self._compacted:
                raise RevisionCompactedError(start_revision, self._compacted)
            backlog = [e for e in self._history if e.revision >= start_revision and e.key.startswith(prefix)]
            if backlog:
                callback(backlog)
            watch_id = self._next_watch
            self._next_watch += 1
            self._watchers[watch_id] = (prefix, callback)

        def cancel() -> None:
            with self._lock:
                self._watchers.pop(watch_id, None)

        return Watch(cancel)
