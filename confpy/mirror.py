"""The in-memory mirror of the watched keys, and each resource's view of it.

Pure code. Watch mode loads a snapshot once, then applies events; each change updates only the
stores of the resources that read the changed key, so the cost of a change does not grow with
unrelated keys or resources.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence

from confpy.backends.base import Event
from confpy.resource import TemplateResource
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
            gone = [k for k in self.values if k.startswith(scope) and k not in values]
            events = [Event(k, None, revision) for k in gone]
            events += [Event(k, v, revision) for k, v in values.items() if self.values.get(k) != v]
            changed = self._apply(events)
            self.revision = max(self.revision, revision)
        return changed

    def apply(self, prefix: str, events: Iterable[Event]) -> set[str]:
        """Apply a batch from the watch on `prefix`; the names of the resources whose view changed."""
        with self._lock:
            changed = self._apply(events, self._readers.get(prefix))
            return changed

    def _apply(self, events: Iterable[Event], readers: list[TemplateResource] | None = None) -> set[str]:
        changed: set[str] = set()
        candidates = self.resources if readers is None else readers
        for event in events:
            self.revision = max(self.revision, event.revision)
            if event.value is None:
                if self.values.pop(event.key, None) is None:
                    continue
            elif self.values.get(event.key) == event.value:
                continue
            else:
                self.values[event.key] = event.value
            for resource in candidates:
                if resource.owns(event.key):
                    store = self.stores[resource.name]
                    key = resource.template_key(event.key)
                    if event.value is None:
                        store.delete(key)
                    else:
                        store.set(key, event.value)
                    changed.add(resource.name)
        return changed

    def store_copy(self, name: str) -> tuple[KeyStore, int]:
        """A private copy of one resource's store (safe to render while events arrive) and the revision."""
        with self._lock:
            return KeyStore(self.stores[name].items()), self.revision


def _overlaps(prefix: str, keys: Iterable[str]) -> bool:
    return any(k.startswith(prefix) or prefix.startswith(k) for k in keys)
