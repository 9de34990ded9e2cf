"""The memory backend: etcd-like revisions, snapshots, watches and leases, in process."""

from __future__ import annotations

import pytest

from confpy.backends.base import Event
from confpy.backends.memory import MemoryBackend
from confpy.errors import BackendError, RevisionCompactedError
from tests.support.helpers import wait_until

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


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_keys_on_a_lease_go_when_it_expires_and_watchers_see_the_deletes() -> None:
    clock = Clock()
    backend = MemoryBackend({"/svc/plain": "p"}, clock=clock)
    seen: list[Item] = []
    backend.watch("/svc/", backend.revision + 1, seen.append)
    lease, granted = backend.grant_lease(5)
    assert granted == 5
    put = backend.put_on_lease({"/svc/a": "1", "/svc/b": "2"}, lease)
    assert seen == [[Event("/svc/a", "1", put), Event("/svc/b", "2", put)]]
    clock.now += 4
    assert backend.keep_alive(lease) == 5  # refreshed: 5 s from now
    clock.now += 4
    backend.expire_leases()
    assert backend.read(["/svc/"]).values == {"/svc/a": "1", "/svc/b": "2", "/svc/plain": "p"}
    clock.now += 1
    backend.expire_leases()
    gone = backend.revision
    assert backend.read(["/svc/"]).values == {"/svc/plain": "p"}
    assert seen[1:] == [[Event("/svc/a", None, gone), Event("/svc/b", None, gone)]]
    assert backend.keep_alive(lease) == 0  # a lost lease is TTL 0, not an error
    assert backend.revoke_lease(lease) is False
    with pytest.raises(BackendError, match="requested lease not found"):
        backend.put_on_lease({"/svc/a": "1"}, lease)


def test_revoking_a_lease_deletes_only_the_keys_still_on_it() -> None:
    backend = MemoryBackend()
    lease, _ = backend.grant_lease(30)
    backend.put_on_lease({"/a": "1", "/b": "2"}, lease)
    backend.put("/b", "plain")  # a put without a lease takes the key off it, as in etcd
    other, _ = backend.grant_lease(30)
    backend.put_on_lease({"/c": "3"}, other)
    assert backend.revoke_lease(lease) is True
    assert backend.read(["/"]).values == {"/b": "plain", "/c": "3"}
    assert backend.keep_alive(other) == 30
    backend.close()


def test_an_unrefreshed_lease_expires_on_its_own() -> None:
    backend = MemoryBackend()
    lease, _ = backend.grant_lease(1)
    backend.put_on_lease({"/k": "v"}, lease)
    wait_until(lambda: backend.read(["/k"]).values == {}, timeout=10, what="lease expiry")
    assert backend.keep_alive(lease) == 0
    backend.close()
