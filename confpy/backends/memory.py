"""An in-memory backend with revisions and watches: for tests and for embedding confpy.

It behaves like etcd where confpy relies on it: every change gets the next revision, reads are
consistent snapshots, and a watch delivers every change from its start revision on, in order.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from confpy.backends.base import Backend, Event, EventCallback, Snapshot, Watch
from confpy.errors import BackendError, RevisionCompactedError

__all__ = ["MemoryBackend"]


class MemoryBackend(Backend):
    """Keys in a dict, a revision counter, and a history for watches to replay."""

    name = "memory"

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._lock = threading.Lock()
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

    def _apply(self, changes: list[tuple[str, str | None]]) -> int:
        with self._lock:
            self.revision += 1
            events = []
            for key, value in changes:
                if value is None:
                    if self._values.pop(key, None) is None:
                        continue
                else:
                    self._values[key] = value
                events.append(Event(key, value, self.revision))
            self._history.extend(events)
            watchers = list(self._watchers.values())
            for prefix, callback in watchers:
                batch = [e for e in events if e.key.startswith(prefix)]
                if batch:
                    callback(batch)
            return self.revision

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
