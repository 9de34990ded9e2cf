"""The memory backend: etcd-like revisions, snapshots and watches, in process."""

from __future__ import annotations

import pytest

from confpy.backends.base import Event
from confpy.backends.memory import MemoryBackend
from confpy.errors import RevisionCompactedError

Item = list[Event] | Exception


def test_every_change_gets_the_next_revision() -> None:
    backend = MemoryBackend({"/a": "1"})
    start = backend.revision
    assert backend.put("/b", "2") == start + 1
    assert backend.put_many({"/c": "3", "/d": "4"}) == start + 2
    assert backend.delete("/a") == start + 3
    snapshot = backend.read(["/"])
    assert snapshot == type(snapshot)({"/b": "2", "/c": "3", "/d": "4"}, start + 3)


def test_read_keeps_keys_under_the_prefixes() -> None:
    backend = MemoryBackend({"/app/a": "1", "/apple": "2", "/db/h": "3"})
    assert backend.read(["/app/", "/db"]).values == {"/app/a": "1", "/db/h": "3"}
    assert backend.read(["/app"]).values == {"/app/a": "1", "/apple": "2"}


def test_watch_replays_from_its_start_revision_then_streams() -> None:
    backend = MemoryBackend()
    r1 = backend.put("/w/a", "1")
    r2 = backend.put("/x", "other")
    seen: list[Item] = []
    watch = backend.watch("/w/", r1, seen.append)
    assert seen == [[Event("/w/a", "1", r1)]]
    r3 = backend.put_many({"/w/b": "2", "/x": "3"})
    r4 = backend.delete("/w/a")
    assert seen[1:] == [[Event("/w/b", "2", r3)], [Event("/w/a", None, r4)]]
    assert r2 < r3
    watch.cancel()
    backend.put("/w/c", "4")
    assert len(seen) == 3


def test_deleting_a_missing_key_sends_no_event() -> None:
    backend = MemoryBackend()
    seen: list[Item] = []
    backend.watch("/", 0, seen.append)
    backend.delete("/nothing")
    assert seen == []


def test_compacted_history_refuses_old_watches() -> None:
    backend = MemoryBackend()
    old = backend.put("/a", "1")
    new = backend.put("/a", "2")
    backend.compact(new)
    with pytest.raises(RevisionCompactedError) as info:
        backend.watch("/", old, lambda item: None)
    assert (info.value.revision, info.value.compact_revision) == (old, new)
    seen: list[Item] = []
    backend.watch("/", new, seen.append)
    assert seen == [[Event("/a", "2", new)]]
