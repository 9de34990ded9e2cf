"""The etcd backend against real etcd servers: snapshots, errors, failover, watches under faults."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from confpy.backends.base import Backend, Event, Snapshot
from confpy.backends.etcd.backend import MAX_TXN_OPS, EtcdBackend
from confpy.backends.etcd.gateway_backend import GatewayBackend
from confpy.errors import BackendError, RevisionCompactedError, ValueDecodeError
from tests.support.etcd_server import EtcdCluster, EtcdServer, free_port
from tests.support.helpers import voluntary_switches

Item = list[Event] | BackendError


@pytest.fixture
def backend(etcd: EtcdServer) -> Iterator[EtcdBackend]:
    with EtcdBackend([etcd.url]) as b:
        assert isinstance(b, EtcdBackend)
        yield b


#: Both transports: gRPC, and etcd's JSON gateway over HTTP; the reads and writes below run over each.
TRANSPORTS: dict[str, type[EtcdBackend | GatewayBackend]] = {"grpc": EtcdBackend, "http": GatewayBackend}


@pytest.fixture(params=sorted(TRANSPORTS))
def reader(request: pytest.FixtureRequest, etcd: EtcdServer) -> Iterator[Backend]:
    """A backend over one transport, for reads (the writes of a test go through `backend`)."""
    with TRANSPORTS[request.param]([etcd.url]) as b:
        yield b


@pytest.fixture(params=sorted(TRANSPORTS))
def watcher(request: pytest.FixtureRequest, etcd: EtcdServer) -> Iterator[EtcdBackend | GatewayBackend]:
    """A backend over one transport, for watches (and the writes they see)."""
    with TRANSPORTS[request.param]([etcd.url]) as b:
        yield b


def over(transport: str, url: str, **options: Any) -> EtcdBackend | GatewayBackend:
    return TRANSPORTS[transport]([url], **options)


def watch_threads(others: set[threading.Thread]) -> list[threading.Thread]:
    """The threads that read watch streams, but for `others` (other tests' streams may still be
    ending): gRPC's one per stream, the gateway's one per watch (`confpy-etcd-watch-PREFIX`)."""
    return [t for t in set(threading.enumerate()) - others if t.name.startswith("confpy-etcd-watch")]


class Inbox:
    """Collects what a watch delivers, from the backend's thread, for the test to wait on."""

    def __init__(self) -> None:
        self.items: queue.Queue[Item] = queue.Queue()
        self.calls = 0
        self.skipped: list[Event] = []

    def __call__(self, item: Item) -> None:
        self.calls += 1
        self.items.put(item)

    def events(self, count: int, timeout: float = 10.0) -> list[Event]:
        """The next `count` events (fails on an error or when they do not come in time)."""
        got: list[Event] = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            item = self.items.get(timeout=max(0.01, deadline - time.monotonic()))
            assert not isinstance(item, BackendError), f"watch failed: {item}"
            got.extend(item)
        assert len(got) == count, got
        return got

    def until(self, revision: int, timeout: float = 10.0) -> list[Event]:
        """Events up to and including the one at `revision`."""
        got: list[Event] = []
        deadline = time.monotonic() + timeout
        while not got or got[-1].revision < revision:
            item = self.items.get(timeout=max(0.01, deadline - time.monotonic()))
            assert not isinstance(item, BackendError), f"watch failed: {item}"
            got.extend(item)
        return got

    def error(self, timeout: float = 10.0) -> BackendError:
        """The error that ends the watch; events delivered before it are kept in `skipped`."""
        deadline = time.monotonic() + timeout
        while True:
            item = self.items.get(timeout=max(0.01, deadline - time.monotonic()))
            if isinstance(item, BackendError):
                return item
            self.skipped.extend(item)


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# --- reads ------------------------------------------------------------------------------------------


def test_read_returns_every_key_under_the_prefixes(
    backend: EtcdBackend, reader: Backend, etcd_prefix: str
) -> None:
    p = etcd_prefix
    backend.put(f"{p}/app/a", "1")
    backend.put(f"{p}/app/b/c", "2")
    backend.put(f"{p}/db/host", "h")
    last = backend.put(f"{p}/other/x", "3")
    snapshot = reader.read([f"{p}/app", f"{p}/db/", f"{p}/missing"])
    assert snapshot.values == {f"{p}/app/a": "1", f"{p}/app/b/c": "2", f"{p}/db/host": "h"}
    assert snapshot.revision >= last
    assert reader.read([]).values == {}


def test_read_at_a_revision_sees_the_old_values(
    backend: EtcdBackend, reader: Backend, etcd_prefix: str
) -> None:
    key = f"{etcd_prefix}/k"
    first = backend.put(key, "old")
    backend.put(key, "new")
    backend.put(f"{etcd_prefix}/later", "x")
    old = reader.read([etcd_prefix], revision=first)
    assert old.values == {key: "old"}
    assert old.revision == first
    assert reader.read([etcd_prefix]).values == {key: "new", f"{etcd_prefix}/later": "x"}


def test_many_prefixes_are_read_in_batches_all_at_one_revision(
    backend: EtcdBackend, reader: Backend, etcd_client: Any, etcd_prefix: str
) -> None:
    """300 prefixes need 3 transactions (etcd refuses more than 128 operations in one); a writer
    changes keys of all of them meanwhile, and each snapshot must equal the state at its revision."""
    count = 300
    assert count > 2 * MAX_TXN_OPS
    prefixes = [f"{etcd_prefix}/p{i:03d}/" for i in range(count)]
    state = {f"{p}k": "0" for p in prefixes}
    for p in prefixes:
        base = backend.put(f"{p}k", "0")
    log: list[tuple[int, str, str]] = []
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set() and n < 5000:
            n += 1
            key = f"{prefixes[(n * 7) % count]}k"
            log.append((int(etcd_client.put(key, str(n)).header.revision), key, str(n)))

    thread = threading.Thread(target=writer)
    thread.start()
    snapshots = []
    try:
        wait_for(lambda: len(log) > 5)
        for _ in range(15):
            snapshots.append(reader.read(prefixes))
    finally:
        stop.set()
        thread.join(10)
    assert snapshots[-1].revision > snapshots[0].revision > base, "the writer did not run during the reads"
    for snapshot in snapshots:
        expected = dict(state)
        for revision, key, value in log:
            if revision <= snapshot.revision:
                expected[key] = value
        assert snapshot.values == expected, f"snapshot at {snapshot.revision} mixes revisions"


def test_a_value_that_is_not_utf8_names_its_key(reader: Backend, etcd_client: Any, etcd_prefix: str) -> None:
    etcd_client.put(f"{etcd_prefix}/ok", "fine")
    etcd_client.put(f"{etcd_prefix}/bad", b"\xff\xfe")
    with pytest.raises(ValueDecodeError, match=f"{etcd_prefix}/bad") as info:
        reader.read([etcd_prefix])
    assert info.value.key == f"{etcd_prefix}/bad"


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_unreachable_etcd_fails_in_bounded_time_with_a_clear_message(transport: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with TRANSPORTS[transport]([url], connect_timeout=1.0) as backend:  # type: ignore[call-arg]
        started = time.monotonic()
        with pytest.raises(BackendError) as info:
            backend.read(["/"])
        elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 3.0
    assert str(info.value).startswith(f"cannot reach etcd at {url}: connection refused after 1.")


def test_fails_over_to_the_next_endpoint(etcd: EtcdServer, etcd_prefix: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with EtcdBackend([dead, etcd.url], connect_timeout=3.0) as backend:
        started = time.monotonic()
        revision = backend.put(f"{etcd_prefix}/k", "v")
        assert backend.read([etcd_prefix]).values == {f"{etcd_prefix}/k": "v"}
        assert time.monotonic() - started < 2.0
        inbox = Inbox()
        backend.watch(etcd_prefix, revision, inbox)
        assert inbox.events(1) == [Event(f"{etcd_prefix}/k", "v", revision)]


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_reads_fail_over_to_the_next_endpoint(
    etcd: EtcdServer, etcd_client: Any, etcd_prefix: str, transport: str
) -> None:
    etcd_client.put(f"{etcd_prefix}/k", "v")
    dead = f"http://127.0.0.1:{free_port()}"
    with TRANSPORTS[transport]([dead, etcd.url], connect_timeout=3.0) as reader:  # type: ignore[call-arg]
        assert reader.read([etcd_prefix]).values == {f"{etcd_prefix}/k": "v"}
        assert reader.read([etcd_prefix]).values == {f"{etcd_prefix}/k": "v"}  # stays on the live one


# --- writes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TRANSPORTS))
def test_put_delete_and_put_if_absent(
    etcd: EtcdServer, etcd_client: Any, etcd_prefix: str, name: str
) -> None:
    key = f"{etcd_prefix}/k=ü"
    with TRANSPORTS[name]([etcd.url]) as backend:
        assert backend.put_if_absent(key, "first=ü") is True
        assert backend.put_if_absent(key, "second") is False
        assert backend.read([key]).values == {key: "first=ü"}
        deleted = backend.delete(key)
        assert backend.read([key]).values == {}
        assert backend.read([key]).revision == deleted
        assert backend.delete(key) == deleted  # an absent key: no error, no new revision
        written = backend.put(key, "")
        assert backend.read([key]) == Snapshot({key: ""}, written)
        assert etcd_client.get(key)[1].lease_id == 0
        backend.put(f"{etcd_prefix}/leased", "v", lease_ttl=30)
        _, meta = etcd_client.get(f"{etcd_prefix}/leased")
        assert 29 <= etcd_client.get_lease_info(meta.lease_id).TTL <= 30


# --- watches ----------------------------------------------------------------------------------------


def test_watch_streams_puts_and_deletes_in_order(
    watcher: EtcdBackend | GatewayBackend, etcd_prefix: str
) -> None:
    p = etcd_prefix
    start = watcher.put(f"{p}/before", "x")
    inbox = Inbox()
    watch = watcher.watch(f"{p}/w/", start + 1, inbox)
    r1 = watcher.put(f"{p}/w/a", "1")
    r2 = watcher.put(f"{p}/elsewhere", "no")
    r3 = watcher.put(f"{p}/w/b", "2")
    r4 = watcher.delete(f"{p}/w/a")
    assert inbox.events(3) == [
        Event(f"{p}/w/a", "1", r1),
        Event(f"{p}/w/b", "2", r3),
        Event(f"{p}/w/a", None, r4),
    ]
    assert r1 < r2 < r3
    watch.cancel()
    watch.cancel()


def test_watch_start_revision_is_inclusive(watcher: EtcdBackend | GatewayBackend, etcd_prefix: str) -> None:
    r1 = watcher.put(f"{etcd_prefix}/a", "1")
    r2 = watcher.put(f"{etcd_prefix}/a", "2")
    inbox = Inbox()
    watcher.watch(etcd_prefix, r1, inbox)
    assert inbox.events(2) == [Event(f"{etcd_prefix}/a", "1", r1), Event(f"{etcd_prefix}/a", "2", r2)]


def test_no_callback_after_cancel(watcher: EtcdBackend | GatewayBackend, etcd_prefix: str) -> None:
    start = watcher.put(f"{etcd_prefix}/a", "1")
    inbox = Inbox()
    watch = watcher.watch(etcd_prefix, start, inbox)
    inbox.events(1)
    watch.cancel()
    calls = inbox.calls
    for i in range(5):
        watcher.put(f"{etcd_prefix}/a", str(i))
    time.sleep(0.3)
    assert inbox.calls == calls


def test_a_callback_may_cancel_its_own_watch(watcher: EtcdBackend | GatewayBackend, etcd_prefix: str) -> None:
    start = watcher.put(f"{etcd_prefix}/a", "1")
    seen: list[Item] = []
    holder: dict[str, Any] = {}
    ready = threading.Event()

    def callback(item: Item) -> None:
        seen.append(item)
        ready.wait(5)
        holder["watch"].cancel()

    holder["watch"] = watcher.watch(etcd_prefix, start, callback)
    ready.set()
    wait_for(lambda: len(seen) == 1)
    watcher.put(f"{etcd_prefix}/a", "2")
    time.sleep(0.3)
    assert len(seen) == 1


def test_many_watches_each_get_their_own_events(
    watcher: EtcdBackend | GatewayBackend, etcd_prefix: str
) -> None:
    """100 watches, set up from ten threads at once, each get exactly their own events;
    cancelling one leaves the others running. Over gRPC they share one stream: the thread count
    does not grow with them (the gateway's HTTP/1.1 has a stream, and a thread, per watch)."""
    backend = watcher
    shared = isinstance(backend, EtcdBackend)
    backend.put(f"{etcd_prefix}/warm", "1")
    before = threading.active_count()
    prefixes = [f"{etcd_prefix}/w{i:03}/" for i in range(100)]
    inboxes = {prefix: Inbox() for prefix in prefixes}
    watches: dict[str, Any] = {}

    def open_some(some: list[str]) -> None:
        for prefix in some:
            watches[prefix] = backend.watch(prefix, 0, inboxes[prefix])

    openers = [threading.Thread(target=open_some, args=(prefixes[i::10],)) for i in range(10)]
    for opener in openers:
        opener.start()
    for opener in openers:
        opener.join(30)
    assert len(watches) == 100
    assert threading.active_count() - before <= (4 if shared else 102)
    revisions = {prefix: backend.put(f"{prefix}k", prefix) for prefix in prefixes}
    for prefix in prefixes:
        assert inboxes[prefix].events(1) == [Event(f"{prefix}k", prefix, revisions[prefix])]

    cancelled = prefixes[37]
    watches[cancelled].cancel()
    calls = inboxes[cancelled].calls
    revisions = {prefix: backend.delete(f"{prefix}k") for prefix in prefixes}
    for prefix in prefixes:
        if prefix != cancelled:
            assert inboxes[prefix].events(1) == [Event(f"{prefix}k", None, revisions[prefix])]
    time.sleep(0.2)
    assert inboxes[cancelled].calls == calls
    assert all(inbox.items.empty() for inbox in inboxes.values())
    assert threading.active_count() - before <= (4 if shared else 101)


def test_a_non_utf8_value_ends_the_watch_with_its_key(
    watcher: EtcdBackend | GatewayBackend, etcd_client: Any, etcd_prefix: str
) -> None:
    start = watcher.put(f"{etcd_prefix}/ok", "1")
    inbox = Inbox()
    watcher.watch(etcd_prefix, start, inbox)
    inbox.events(1)
    etcd_client.put(f"{etcd_prefix}/bad", b"\xff")
    error = inbox.error()
    assert isinstance(error, ValueDecodeError)
    assert error.key == f"{etcd_prefix}/bad"


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_a_watch_that_cannot_be_set_up_raises_in_bounded_time(transport: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    inbox = Inbox()
    with over(transport, url, connect_timeout=0.5) as backend:
        started = time.monotonic()
        with pytest.raises(BackendError) as info:
            backend.watch("/", 1, inbox)
    assert time.monotonic() - started < 3
    assert str(info.value).startswith(f"cannot reach etcd at {url}: connection refused")
    assert inbox.calls == 0


def test_a_returned_watch_is_already_established(
    watcher: EtcdBackend | GatewayBackend, etcd_prefix: str
) -> None:
    """Once watch() returns, etcd has the watch: a put right after it is seen even from
    revision 0 ("from now on")."""
    inbox = Inbox()
    watcher.watch(etcd_prefix, 0, inbox)
    revision = watcher.put(f"{etcd_prefix}/a", "1")
    assert inbox.events(1) == [Event(f"{etcd_prefix}/a", "1", revision)]


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_close_ends_watches_without_callbacks(etcd: EtcdServer, etcd_prefix: str, transport: str) -> None:
    backend = over(transport, etcd.url)
    start = backend.put(f"{etcd_prefix}/a", "1")
    inbox = Inbox()
    backend.watch(etcd_prefix, start, inbox)
    inbox.events(1)
    backend.close()
    calls = inbox.calls
    with EtcdBackend([etcd.url]) as other:
        other.put(f"{etcd_prefix}/a", "2")
    time.sleep(0.3)
    assert inbox.calls == calls
    with pytest.raises(BackendError, match="closed"):
        backend.read([etcd_prefix])


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_compacted_start_revision(fresh_etcd: EtcdServer, transport: str) -> None:
    with over(transport, fresh_etcd.url) as backend:
        first = backend.put("/c/a", "1")
        backend.put("/c/a", "2")
        last = backend.put("/c/a", "3")
        client = fresh_etcd.client()
        client.compact(last)
        client.close()
        inbox = Inbox()
        backend.watch("/c/", first, inbox)
        error = inbox.error()
        assert isinstance(error, RevisionCompactedError)
        assert (error.revision, error.compact_revision) == (first, last)
        with pytest.raises(BackendError, match="compacted"):
            backend.read(["/c/"], revision=first)
        assert backend.read(["/c/"]).values == {"/c/a": "3"}


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_sigkill_mid_watch_is_reported_and_a_resumed_watch_loses_nothing(
    fresh_etcd: EtcdServer, transport: str
) -> None:
    """Writes go on until etcd dies; more come after the restart. The events seen before the
    crash plus those of a watch resumed from the last one + 1 are exactly etcd's history."""
    prefix = "/kill/"
    writer = fresh_etcd.client()
    acked: list[int] = []

    def write(count: int) -> None:
        for i in range(count):
            try:
                acked.append(int(writer.put(f"{prefix}k{i % 7}", str(len(acked))).header.revision))
            except Exception:
                return

    with over(transport, fresh_etcd.url, connect_timeout=2.0) as backend:
        start = backend.put(f"{prefix}start", "0")
        inbox = Inbox()
        backend.watch(prefix, start, inbox)
        seen = inbox.events(1)
        thread = threading.Thread(target=write, args=(100000,))
        thread.start()
        wait_for(lambda: len(acked) > 50)
        killed = time.monotonic()
        fresh_etcd.kill()
        error = inbox.error(timeout=10)
        assert time.monotonic() - killed < 10
        assert "broke" in str(error)
        thread.join(10)
        seen.extend(inbox.skipped)
        time.sleep(0.2)
        assert inbox.items.empty(), "a callback came after the error"

        fresh_etcd.restart()
        writer.close()
        writer = fresh_etcd.client()
        write(20)
        last = acked[-1]
        resumed = Inbox()
        backend.watch(prefix, seen[-1].revision + 1, resumed)
        more = resumed.until(last)
        history = Inbox()
        backend.watch(prefix, start, history)
        everything = history.until(last)
    writer.close()
    combined = seen + more
    assert combined == everything
    assert len({e.revision for e in combined}) == len(combined)
    assert set(acked) <= {e.revision for e in combined}


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_a_frozen_etcd_ends_the_watch_with_an_error(fresh_etcd: EtcdServer, transport: str) -> None:
    """gRPC's keepalive pings notice a frozen (SIGSTOPped) member; over the gateway, the status
    request every KEEPALIVE s does."""
    with over(transport, fresh_etcd.url) as backend:
        start = backend.put("/frozen/a", "1")
        inbox = Inbox()
        backend.watch("/frozen/", start, inbox)
        inbox.events(1)
        paused = time.monotonic()
        fresh_etcd.pause()
        try:
            error = inbox.error(timeout=25)
        finally:
            fresh_etcd.resume()
    assert time.monotonic() - paused < 25
    assert "broke" in str(error)


def test_reconnect_gives_fresh_channels_and_keeps_working(etcd: EtcdServer, etcd_prefix: str) -> None:
    backend = EtcdBackend([etcd.url])
    try:
        backend.put(f"{etcd_prefix}/r", "1")
        old = list(backend._connection._channels)
        backend._connection._reconnected -= 10  # past the rate limit
        backend.reconnect()
        assert all(a is not b for a, b in zip(old, backend._connection._channels, strict=True))
        assert backend.read([f"{etcd_prefix}/r"]).values == {f"{etcd_prefix}/r": "1"}
        again = list(backend._connection._channels)
        backend.reconnect()  # within the interval: no churn
        assert backend._connection._channels == again
    finally:
        backend.close()


def test_an_idle_watch_stream_reader_sleeps_until_a_response(
    watcher: EtcdBackend | GatewayBackend, etcd_prefix: str
) -> None:
    """Idle means asleep: the thread reading the watch stream wakes for responses, not on a clock.

    gRPC's blocking waits woke it every 0.1 s (grpc._common.MAXIMUM_WAIT_TIMEOUT): 10 of an idle
    watch's 24 wake-ups a second. Counted, not timed: a sleeping thread does not switch however
    loaded the machine is, so 1.5 s without a response leaves its count where it was but for stray
    wake-ups, and a 0.1 s clock would add 15.
    """
    inbox = Inbox()
    others = set(threading.enumerate())
    watch = watcher.watch(etcd_prefix, watcher.put(f"{etcd_prefix}/a", "1") + 1, inbox)
    try:
        (reader,) = watch_threads(others)
        before = voluntary_switches(reader)
        time.sleep(1.5)
        assert voluntary_switches(reader) - before <= 3
        watcher.put(f"{etcd_prefix}/b", "2")
        assert [e.key for e in inbox.events(1)] == [f"{etcd_prefix}/b"]
    finally:
        watch.cancel()


def test_the_http_transport_asks_for_a_leader(tmp_path: Any) -> None:
    """A member cut off from its cluster answers "no leader" to the gateway's requests at once, not
    its stale state: the hasleader header reaches etcd as gRPC metadata (a serializable read, which
    a member serves alone, shows it; confpy's reads are linearizable, so they would also wait)."""
    with EtcdCluster(3, tmp_path) as cluster:
        cluster.start()
        with GatewayBackend([cluster.members[0].url], connect_timeout=1.0) as reader:
            lease, _ = reader.grant_lease(60)
            for member in cluster.members[1:]:
                member.stop()
            request = {"key": "Lw==", "serializable": True}
            with pytest.raises(BackendError, match="etcdserver: no leader"):
                for _ in range(100):  # until the member has noticed (an election timeout, 1 s)
                    reader._connection.call("read of /", "/v3/kv/range", request)
                    time.sleep(0.1)
            # The keep-alive stream's error has a shape of its own ({"error": {"grpc_code": 14, ...}}):
            # still etcd's words, retried as UNAVAILABLE, not a lease lost (0) nor an unknown error.
            with pytest.raises(BackendError, match=r"^cannot reach etcd at .*: etcdserver: no leader after"):
                reader.keep_alive(lease)


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_a_watch_on_a_member_that_lost_its_leader_ends(tmp_path: Any, transport: str) -> None:
    """A member cut off from the rest of its cluster never delivers again: its watch ends with an
    error (watch mode then resumes on the next endpoint) instead of looking alive. etcd ends a gRPC
    stream that asked for a leader; over the gateway, the status check's "no leader" does."""
    with EtcdCluster(3, tmp_path) as cluster:
        cluster.start()
        with over(transport, cluster.members[0].url, connect_timeout=1.0) as backend:
            inbox = Inbox()
            backend.watch("/lost/", backend.put("/lost/a", "1"), inbox)
            inbox.events(1)
            cut = time.monotonic()
            for member in cluster.members[1:]:
                member.stop()
            error = inbox.error(timeout=40)
    assert time.monotonic() - cut < 40
    assert "broke" in str(error) or "leader" in str(error), error
