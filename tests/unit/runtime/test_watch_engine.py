"""The watch engine with the memory backend: real files, real commands, bounded waits."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from confpy.backends.base import Event, EventCallback, ReadSequence, Snapshot, Watch
from confpy.backends.memory import MemoryBackend
from confpy.config.duration import Wait
from confpy.config.settings import Settings
from confpy.errors import BackendError, WatchUnavailableError
from confpy.pipeline.processor import RunRecord
from confpy.runtime.load import load_processors
from confpy.runtime.watch import WatchEngine
from tests.support.helpers import make_confdir

TEMPLATE = "{% for kv in gets('/*') %}{{ kv.Key }}={{ kv.Value }}\n{% endfor %}"


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def resource(dest: Path, prefix: str, extra: str = "") -> str:
    return f'[template]\nsrc = "kv.j2"\ndest = "{dest}"\nprefix = "{prefix}"\nkeys = ["/"]\n{extra}'


class Harness:
    def __init__(self, tmp_path: Path, resources: dict[str, str], wait: Wait | None = None) -> None:
        self.tmp = tmp_path
        self.backend = MemoryBackend()
        self.records: list[RunRecord] = []
        confdir = make_confdir(tmp_path, resources, {"kv.j2": TEMPLATE})
        processors, errors = load_processors(Settings(confdir=confdir, watch=True))
        assert not errors
        self.engine = WatchEngine(
            self.backend, processors, wait=wait, backoff_max=0.2, on_run=self.records.append
        )

    def file(self, name: str) -> str:
        path = self.tmp / name
        return path.read_text() if path.exists() else ""


@pytest.fixture
def harness_factory(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(resources: dict[str, str], wait: Wait | None = None) -> Harness:
        h = Harness(tmp_path, resources, wait)
        made.append(h)
        return h

    yield make
    for h in made:
        h.engine.stop(timeout=5)


def test_renders_at_start_then_follows_events(
    harness_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    h = harness_factory({"a.toml": resource(tmp_path / "a.conf", "/a")})
    h.backend.put("/a/x", "1")
    h.engine.start()
    wait_until(lambda: h.file("a.conf") == "/x=1\n")
    h.backend.put("/a/y", "2")
    h.backend.put("/b/ignored", "3")
    wait_until(lambda: h.file("a.conf") == "/x=1\n/y=2\n")
    h.backend.delete("/a/x")
    wait_until(lambda: h.file("a.conf") == "/y=2\n")


def test_only_affected_resources_run(harness_factory: Callable[..., Harness], tmp_path: Path) -> None:
    h = harness_factory(
        {"a.toml": resource(tmp_path / "a.conf", "/a"), "b.toml": resource(tmp_path / "b.conf", "/b")}
    )
    h.engine.start()
    wait_until(lambda: len(h.records) == 2)
    h.backend.put("/a/x", "1")
    wait_until(lambda: h.file("a.conf") == "/x=1\n")
    time.sleep(0.2)
    assert [r.name for r in h.records[2:]] == ["a.toml"]


def test_resume_after_a_lost_watch_loses_nothing(
    harness_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    h = harness_factory({"a.toml": resource(tmp_path / "a.conf", "/a")})
    h.engine.start()
    h.backend.put("/a/k", "0")
    wait_until(lambda: h.file("a.conf") == "/k=0\n")
    for i in range(1, 6):
        h.backend.fail_watches()
        h.backend.put("/a/k", str(i))  # while the watch is down
    wait_until(lambda: h.file("a.conf") == "/k=5\n")
    assert h.engine.reconnects >= 1


def test_compaction_resyncs_from_a_snapshot(harness_factory: Callable[..., Harness], tmp_path: Path) -> None:
    h = harness_factory({"a.toml": resource(tmp_path / "a.conf", "/a")})
    h.backend.put("/a/gone", "x")
    h.engine.start()
    wait_until(lambda: h.file("a.conf") == "/gone=x\n")
    h.backend.fail_watches()
    h.backend.delete("/a/gone")
    h.backend.put("/a/new", "y")
    h.backend.compact(h.backend.revision)
    wait_until(lambda: h.file("a.conf") == "/new=y\n")
    h.backend.put("/a/after", "z")
    wait_until(lambda: h.file("a.conf") == "/after=z\n/new=y\n")


def test_debounce_min_bounds_the_runs(harness_factory: Callable[..., Harness], tmp_path: Path) -> None:
    log = tmp_path / "reloads"
    extra = f'reload_cmd = "echo r >> {log}"\nwait = "200ms"\n'
    h = harness_factory({"a.toml": resource(tmp_path / "a.conf", "/a", extra)})
    h.engine.start()
    wait_until(lambda: log.exists())
    started = time.monotonic()
    for i in range(100):
        h.backend.put("/a/k", str(i))
        time.sleep(0.005)
    burst = time.monotonic() - started
    wait_until(lambda: h.file("a.conf") == "/k=99\n")
    time.sleep(0.3)
    reloads = len(log.read_text().splitlines()) - 1
    assert 1 <= reloads <= math.ceil(burst / 0.2) + 1


def test_debounce_max_renders_during_a_long_burst(
    harness_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    h = harness_factory({"a.toml": resource(tmp_path / "a.conf", "/a")}, wait=Wait(min=0.3, max=0.4))
    h.engine.start()
    wait_until(lambda: len(h.records) == 1)
    for i in range(30):  # quiet never lasts 0.3 s, so only `max` can trigger a run
        h.backend.put("/a/k", str(i))
        time.sleep(0.05)
    mid_burst = len(h.records)
    wait_until(lambda: h.file("a.conf") == "/k=29\n")
    assert mid_burst >= 2


def test_a_hanging_reload_does_not_delay_others(
    harness_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    slow = resource(tmp_path / "slow.conf", "/s", 'reload_cmd = "sleep 30"\nreload_cmd_timeout = "40s"\n')
    h = harness_factory({"slow.toml": slow, "fast.toml": resource(tmp_path / "fast.conf", "/f")})
    h.backend.put("/s/k", "1")
    h.engine.start()  # the first render of slow.toml writes, then hangs in its reload
    wait_until(lambda: h.file("slow.conf") == "/k=1\n")
    for i in range(5):
        h.backend.put("/f/k", str(i))
        wait_until(lambda i=i: h.file("fast.conf") == f"/k={i}\n", timeout=5)
    h.backend.put("/s/k", "2")
    h.backend.put("/s/k", "3")  # coalesced behind the hanging reload
    time.sleep(0.2)
    assert h.file("slow.conf") == "/k=1\n"


def test_a_change_during_the_first_render_is_not_missed(
    harness_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    """The watches open after the first render, from the snapshot's revision: a change made while
    that render runs (here in a slow check_cmd) comes with their first events."""
    slow = resource(tmp_path / "a.conf", "/a", 'check_cmd = "sleep 0.5"\n')
    h = harness_factory({"a.toml": slow})
    h.backend.put("/a/k", "1")
    started = threading.Thread(target=h.engine.start)
    started.start()
    wait_until(lambda: any(p.name.startswith(".a.conf.") for p in tmp_path.iterdir()))  # checking
    h.backend.put("/a/k", "2")
    started.join(10)
    wait_until(lambda: h.file("a.conf") == "/k=2\n")


def test_a_first_render_that_hangs_holds_no_watch_back_for_long(
    harness_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    """A check_cmd that hangs in the first render delays the watches FIRST_RENDER_WAIT at most."""
    hung = resource(tmp_path / "hung.conf", "/h", 'check_cmd = "sleep 30"\ncheck_cmd_timeout = "40s"\n')
    h = harness_factory({"hung.toml": hung, "fast.toml": resource(tmp_path / "fast.conf", "/f")})
    h.backend.put("/h/k", "1")
    started = threading.Thread(target=h.engine.start, daemon=True)
    started.start()
    started.join(10)
    assert not started.is_alive(), "start() waited for the hung first render"
    h.backend.put("/f/k", "2")
    wait_until(lambda: h.file("fast.conf") == "/k=2\n", timeout=5)
    assert h.file("hung.conf") == ""


def test_reload_group_runs_once_for_several_resources(
    harness_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    log = tmp_path / "reloads"
    extra = f'reload_group = "web"\nreload_cmd = "echo r >> {log}"\n'
    h = harness_factory(
        {
            "a.toml": resource(tmp_path / "a.conf", "/web", extra),
            "b.toml": resource(tmp_path / "b.conf", "/web", extra),
        }
    )
    h.engine.start()
    wait_until(lambda: log.exists())
    time.sleep(0.2)
    assert log.read_text() == "r\n"
    h.backend.put("/web/k", "1")
    wait_until(lambda: h.file("a.conf") == h.file("b.conf") == "/k=1\n")
    wait_until(lambda: log.read_text() != "r\n")  # the group's reload
    time.sleep(0.2)
    assert log.read_text() == "r\nr\n"


def test_reconcile_restores_a_hand_edited_file(
    harness_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    h = harness_factory({"a.toml": resource(tmp_path / "a.conf", "/a")})
    h.backend.put("/a/k", "1")
    h.engine.start()
    wait_until(lambda: h.file("a.conf") == "/k=1\n")
    (tmp_path / "a.conf").write_text("edited\n")
    h.engine.reconcile()
    wait_until(lambda: h.file("a.conf") == "/k=1\n")


def test_a_failed_group_reload_is_retried(harness_factory: Callable[..., Harness], tmp_path: Path) -> None:
    up, log = tmp_path / "up", tmp_path / "reloads"
    extra = f'reload_group = "web"\nreload_cmd = "test -e {up} && echo r >> {log}"\n'
    h = harness_factory({"a.toml": resource(tmp_path / "a.conf", "/web", extra)})
    h.engine.start()
    wait_until(lambda: any(r.name == "reload_group:web" for r in h.records))
    first = next(r for r in h.records if r.name == "reload_group:web")
    assert first.error is not None and first.retry == 1
    up.touch()
    # The first retry is due within 2 s.
    wait_until(lambda: h.records[-1].name == "reload_group:web" and h.records[-1].error is None, timeout=10)
    assert log.read_text() == "r\n"
    assert h.records[-1].retry == 0


class ChangedOnly(MemoryBackend):
    """A store that says only "changed", as redis and zookeeper do: empty batches, numbered reads,
    reads by key; `refuse` makes its watches fail to open, `unavailable` raises WatchUnavailableError."""

    prefix_reads = False

    def __init__(self) -> None:
        super().__init__()
        self._numbers = ReadSequence()
        self.refuse = threading.Event()
        self.unavailable = False
        self.reads = 0

    def read(self, prefixes: Sequence[str]) -> Snapshot:
        with self._numbers.next() as number:
            self.reads += 1
            return Snapshot(super().read(prefixes).values, number)

    def watch(self, prefix: str, start_revision: int, callback: EventCallback) -> Watch:
        if self.unavailable:
            raise WatchUnavailableError("notifications are off")
        if self.refuse.is_set():
            raise BackendError("refused")

        def changed(batch: list[Event] | BackendError) -> None:
            callback([] if isinstance(batch, list) else batch)

        watch = super().watch(prefix, self.revision + 1, changed)
        callback([])
        return watch


def changed_only(tmp_path: Path, resources: dict[str, str]) -> tuple[ChangedOnly, WatchEngine]:
    backend = ChangedOnly()
    confdir = make_confdir(tmp_path, resources, {"kv.j2": TEMPLATE})
    processors, errors = load_processors(Settings(confdir=confdir, watch=True))
    assert not errors
    return backend, WatchEngine(backend, processors, backoff_max=0.2)


def test_a_store_without_revisions_is_re_read_on_each_change(tmp_path: Path) -> None:
    backend, engine = changed_only(tmp_path, {"a.toml": resource(tmp_path / "a.conf", "/a")})
    backend.put("/a/x", "1")
    engine.start()
    try:
        wait_until(lambda: (tmp_path / "a.conf").exists() and (tmp_path / "a.conf").read_text() == "/x=1\n")
        backend.put("/a/y", "2")
        wait_until(lambda: (tmp_path / "a.conf").read_text() == "/x=1\n/y=2\n")
        backend.delete("/a/x")
        wait_until(lambda: (tmp_path / "a.conf").read_text() == "/y=2\n")
        assert engine.streaming
    finally:
        engine.stop(timeout=5)


def test_a_change_while_the_watch_is_down_is_read_when_it_is_back(tmp_path: Path) -> None:
    """No event announces it: the resumed watch's first "changed" does."""
    backend, engine = changed_only(tmp_path, {"a.toml": resource(tmp_path / "a.conf", "/a")})
    backend.put("/a/x", "1")
    engine.start()
    try:
        wait_until(lambda: (tmp_path / "a.conf").exists())
        backend.refuse.set()
        backend.fail_watches()
        wait_until(lambda: engine.stale_for > 0)
        with backend._lock:  # a change no watch sees
            backend._values["/a/x"] = "while away"
        backend.refuse.clear()
        wait_until(lambda: (tmp_path / "a.conf").read_text() == "/x=while away\n")
    finally:
        engine.stop(timeout=5)


def test_a_server_not_set_up_to_stream_is_polled_and_says_why(tmp_path: Path) -> None:
    backend, engine = changed_only(tmp_path, {"a.toml": resource(tmp_path / "a.conf", "/a")})
    backend.unavailable = True
    engine.start()
    try:
        assert not engine.streaming
        assert engine.sources[0].polling_reason == "notifications are off"
        backend.put("/a/x", "1")
        engine.reconcile()
        dest = tmp_path / "a.conf"
        wait_until(lambda: dest.exists() and dest.read_text() == "/x=1\n")
    finally:
        engine.stop(timeout=5)
