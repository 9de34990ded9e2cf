"""The in-memory mirror of the watched keys, and each resource's view of it.

Pure code. Watch mode loads a snapshot once, then applies events; each change updates only the
stores of the resources that read the changed key, so the cost of a change does not grow with
unrelated keys or resources.
"""

from __future__ import annotations

import sys
import threading
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence

from confpy.backends.base import Event
from confpy.config.resource import TemplateResource
from confpy.store import KeyStore

__all__ = ["Mirror", "watch_prefixes"]


def watch_prefixes(resources: Iterable[TemplateResource]) -> list[str]:
    """The distinct prefixes to watch: every resource key, minus those inside another one."""
    keys = sorted({k for r in resources for k in r.prefixed_keys})
    distinct: list[str] = []
    for key in keys:
        if not distinct or not key.startswith(distinct[-1]):
            distinct.append(key)
    return distinct


class Mirror:
    """Every watched key, plus one store per resource holding its keys as its templates see them."""

    def __init__(self, resources: Sequence[TemplateResource]) -> None:
        self.resources = list(resources)
        self.values: dict[str, str] = {}
        self.stores: dict[str, KeyStore] = {r.name: KeyStore() for r in self.resources}
        self.revision = 0
        self._lock = threading.Lock()
        # For each watched prefix, the resources that read keys under it: an event is only
        # checked against these.
        self._readers: dict[str, list[TemplateResource]] = {
            prefix: [r for r in self.resources if _overlaps(prefix, r.prefixed_keys)]
            for prefix in watch_prefixes(self.resources)
        }
        self._ordered = sorted(self._readers)

    @property
    def prefixes(self) -> list[str]:
        return list(self._readers)

    def load(
        self, values: Mapping[str, str], revision: int, prefixes: Sequence[str] | None = None
    ) -> set[str]:
        """Replace the keys under `prefixes` (all by default) with a snapshot; the resources that changed."""
        scope = tuple(prefixes if prefixes is not None else self._readers)
        changed: set[str] = set()
        with self._lock:
            current = self.values
            for key in [k for k in current if k.startswith(scope) and k not in values]:
                self._change(key, None, self._readers_of(key), changed)
            for key, value in values.items():
                if current.get(key) != value:
                    self._change(key, value, self._readers_of(key), changed)
            self.revision = max(self.revision, revision)
        return changed

    def apply(self, prefix: str, events: Iterable[Event]) -> set[str]:
        """Apply a batch from the watch on `prefix`; the names of the resources whose view changed."""
        readers = self._readers.get(prefix, self.resources)
        changed: set[str] = set()
        with self._lock:
            for event in events:
                self.revision = max(self.revision, event.revision)
                self._change(event.key, event.value, readers, changed)
        return changed

    def _readers_of(self, key: str) -> list[TemplateResource]:
        """The readers of the one watched prefix `key` lies under (none: no resource reads it).

        Watched prefixes never nest, so the only candidate is the greatest one not above `key`:
        a snapshot load costs O(keys x log prefixes), not O(keys x resources).
        """
        index = bisect_right(self._ordered, key) - 1
        if index >= 0 and key.startswith(self._ordered[index]):
            return self._readers[self._ordered[index]]
        return []

    def _change(
        self, key: str, value: str | None, readers: list[TemplateResource], changed: set[str]
    ) -> None:
        """Set (None: delete) one key here and in the store of every resource that reads it."""
        if value is None:
            if self.values.pop(key, None) is None:
                return
        elif self.values.get(key) == value:
            return
        else:
            self.values[key] = value
        for resource in readers:
            if resource.owns(key):
                store = self.stores[resource.name]
                # Interned: resources alike read alike names (`/host`, `/port` under each one's
                # prefix), and one string for all of them is 56 of the ~260 bytes a key costs.
                name = sys.intern(resource.template_key(key))
                if value is None:
                    store.delete(name)
                else:
                    store.set(name, value)
                changed.add(resource.name)

    def store_copy(self, name: str) -> tuple[KeyStore, int]:
        """A private copy of one resource's store (safe to render while events arrive) and the revision."""
        with self._lock:
            return self.stores[name].copy(), self.revision


def _overlaps(prefix: str, keys: Iterable[str]) -> bool:
    return any(k.startswith(prefix) or prefix.startswith(k) for k in keys)
