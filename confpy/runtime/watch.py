"""Watch mode: one consistent snapshot, then one watch stream per distinct prefix, forever.

- Per distinct backend (the global one, and each resource's own `[backend]`) one `_Source`: its
  mirror, its snapshot and its streams, each with the guarantees below. A resource's own backend
  that cannot be read at start fails its resources only, and is retried with backoff meanwhile.

- Whatever reaches the engine (a watch's events or failure, a snapshot) is applied at once on the
  thread that brings it (a watch's reader, a re-read), one at a time under the engine's lock, in
  the order they come: the mirror is written by one thread at a time, and a change reaches its
  worker without a hand-off through another thread. Per-resource workers render and write.
- The watches open after the first render (or `FIRST_RENDER_WAIT`, whichever comes first): they
  stream from the snapshot's revision, so nothing is missed meanwhile, and opening them while the
  workers render would slow that render down (the GIL).
- A broken stream is resumed from the last *applied* event's revision + 1 (never from a response
  header), with exponential backoff and jitter; nothing is lost, nothing applied twice. The
  backoff starts over once the resumed watch has proven healthy (it delivered an event, or stayed
  up `HEALTHY_AFTER` seconds): every outage in a long life is retried as fast as the first.
- A compacted revision: re-read that prefix's snapshot, re-render, watch from its revision + 1.
- Snapshots (compaction, the periodic `-interval` reconcile) are applied only if they are not
  older than what the mirror already holds, so state never goes backwards.
- A backend without revisions (redis, zookeeper) delivers empty batches, "something changed":
  its source's one re-reader thread then reads every key again, one read at a time. Its watch
  sends one when it is in place, also after a reconnect, so nothing changed meanwhile is missed.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from confpy.backends.backoff import Backoff
from confpy.backends.base import Backend, Snapshot, Watch
from confpy.config.backend import BackendPool, backend_failed, by_backend, describe_backend
from confpy.config.duration import Wait
from confpy.config.settings import Settings
from confpy.errors import (
    BackendError,
    ConfpyError,
    RevisionCompactedError,
    ValueDecodeError,
    WatchUnavailableError,
)
from confpy.pipeline.processor import CommitGroup, ResourceProcessor, RunRecord, units
from confpy.runtime.mirror import Mirror
from confpy.runtime.tagged import Batch, Failure, deliver_to
from confpy.runtime.worker import CommitWorker, ReloadGroup, ResourceWorker

__all__ = ["FIRST_RENDER_WAIT", "HEALTHY_AFTER", "WatchEngine"]

log = logging.getLogger("confpy")

#: Seconds a resumed watch must stay up (if it delivers no event) before its backoff starts over.
HEALTHY_AFTER = 10.0
#: Seconds the start waits for the first render before it opens the watches regardless (a slow
#: check_cmd): a change made meanwhile reaches the workers at most this late.
FIRST_RENDER_WAIT = 1.0
#: Between attempts to read a resource's own backend that failed at start (the service's for the global one).
_REACH_BACKOFF = Backoff(first=1.0, cap=5.0)


class _Load:
    """A snapshot of `prefixes` at `revision`, to replace what the source's mirror holds under them
    (a plain class, as tagged.py's items are)."""

    __slots__ = ("everyone", "prefixes", "revision", "source", "values")

    def __init__(
        self,
        source: _Source,
        prefixes: tuple[str, ...],
        values: dict[str, str],
        revision: int,
        everyone: bool = False,
    ) -> None:
        self.source, self.prefixes, self.values, self.revision = source, prefixes, values, revision
        self.everyone = everyone
        """Re-sync every resource, changed or not (restores dest files edited by hand)."""


_Item = Batch[tuple[int, str]] | Failure[tuple[int, str]] | _Load


class _Stream:
    """The state of one prefix's watch: its generation (stale callbacks are dropped) and health."""

    def __init__(self, source: _Source, prefix: str, revision: int) -> None:
        self.source = source
        self.prefix = prefix
        self.key = (source.index, prefix)
        # How messages name it: the prefix, and the backend unless it is the global one.
        self.label = f"{prefix} on backend {source.label}" if source.label else prefix
        self.applied = revision
        self.generation = 0
        self.watch: Watch | None = None
        self.lost_since: float | None = None
        self.failures = 0
        # When the current watch was opened (None: not open), and whether it delivered an event:
        # a re-read after it opened (redis, zookeeper) proves nothing about its health.
        self.opened_at: float | None = None
        self.delivered = False
        # Failures are handed over here once every event before them is applied.
        self.inbox: queue.SimpleQueue[BackendError | None] = queue.SimpleQueue()
        # The thread that re-establishes the watch: it runs only while the watch is broken.
        self.supervisor: threading.Thread | None = None
        self.lock = threading.Lock()


class _Source:
    """One distinct backend: the resources that read it, the mirror of their keys, their streams."""

    def __init__(
        self,
        index: int,
        settings: Settings | None,
        backend: Backend | None,
        processors: Sequence[ResourceProcessor],
        stream: bool,
    ) -> None:
        self.index = index
        self.settings = settings
        """A resource's own backend (None: the global one, which the engine was given open)."""
        self.label = describe_backend(settings) if settings is not None else ""
        self.backend = backend
        self.processors = list(processors)
        self.mirror = Mirror([p.resource for p in processors])
        self.stream = stream
        self.streams = {prefix: _Stream(self, prefix, 0) for prefix in self.mirror.prefixes}
        self.loaded = False
        """Its first snapshot is in the mirror: its workers may run, its watches open."""
        self.polling_reason: str | None = None
        """Why it is polled though its backend can stream (the server is not set up for it)."""
        # Set by an empty batch (a backend without revisions saw a change): a full re-read follows.
        self.reread = threading.Event()
        self.rereader: threading.Thread | None = None

    @property
    def streaming(self) -> bool:
        return (
            self.stream
            and self.backend is not None
            and self.backend.supports_watch
            and self.polling_reason is None
        )

    @property
    def opened(self) -> Backend:
        """Its backend, once opened (the global one always is; an own one at `start`)."""
        assert self.backend is not None
        return self.backend

    @property
    def full_read(self) -> list[str]:
        """What a full read asks for: the merged prefixes, or each resource key as onetime reads
        them where a prefix read is not the keys below it (redis, zookeeper: a string `/app`
        shadows `/app/db`, so merged prefixes would miss it), and when polling."""
        if self.streaming and self.opened.prefix_reads:
            return self.mirror.prefixes
        return sorted({k for p in self.processors for k in p.resource.prefixed_keys})


def _read_from(source: _Source, keys: Sequence[str]) -> Snapshot:
    """A read of `keys` from the source's backend (a commit group's run), once it is open."""
    if source.backend is None:
        raise BackendError(f"backend {source.label} is not reachable yet")
    return source.backend.read(keys)


class WatchEngine:
    """Keeps every resource's dest equal to the render of the latest backend state."""

    def __init__(
        self,
        backend: Backend,
        processors: Sequence[ResourceProcessor],
        *,
        wait: Wait | None = None,
        stream: bool = True,
        backoff_max: float = 5.0,
        on_run: Callable[[RunRecord], None] | None = None,
        pool: BackendPool | None = None,
        poll_interval: float = 0.0,
    ) -> None:
        """`backend` is the global one; a resource's own `[backend]` comes from `pool` (the
        caller's, or one the engine opens and closes). `poll_interval`: how often the caller
        re-reads (`reconcile`), named in the warning for a backend that cannot stream."""
        self._poll_interval = poll_interval
        self._polled_said: set[str] = set()
        self._polled_lock = threading.Lock()
        self.backoff = Backoff(first=0.1, cap=backoff_max, jitter=0.5)
        # What is delivered is applied under this lock; until start() has opened every watch it
        # is held back in `_held` (a failure must not be handled while the watches open).
        self._lock = threading.Lock()
        self._held: list[_Item] | None = []
        self._own_pool = pool is None
        self._pool = pool or BackendPool()
        # Without streams (interval mode, or a backend that cannot watch) only reconcile() updates.
        self.sources = self._sources(backend, processors, stream)
        self._streams = {s.key: s for source in self.sources for s in source.streams.values()}
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.reconnects = 0
        self._on_run = on_run
        self._not_yet_run = {p.resource.name for p in processors}
        self._first_runs = threading.Condition()
        groups: dict[str, ReloadGroup] = {}
        for processor in processors:
            name = processor.resource.reload_group
            if name and name not in groups and processor.resource.reload_cmd:
                groups[name] = ReloadGroup(name, processor, on_run)
        self.groups = groups
        # A commit group's members share its one worker, under each member's name.
        self.workers: dict[str, ResourceWorker] = {}
        for source in self.sources:
            for unit in units(source.processors):
                if isinstance(unit, CommitGroup):
                    member = unit.reloader.resource
                    worker: ResourceWorker = CommitWorker(
                        unit,
                        functools.partial(_read_from, source),
                        source.mirror,
                        wait=wait,
                        group=groups.get(member.reload_group or ""),
                        on_run=self._ran,
                    )
                    self.workers.update(dict.fromkeys((m.resource.name for m in unit.members), worker))
                else:
                    self.workers[unit.resource.name] = ResourceWorker(
                        unit,
                        source.mirror,
                        wait=wait,
                        group=groups.get(unit.resource.reload_group or ""),
                        on_run=self._ran,
                    )

    def _sources(
        self, backend: Backend, processors: Sequence[ResourceProcessor], stream: bool
    ) -> list[_Source]:
        """The global backend's source first (present even if no resource reads it; one per resource
        where its reads are by key), then one per distinct own backend (`by_backend`, as -onetime
        groups them); every processor carries the global settings."""
        if not processors:
            return [_Source(0, None, backend, [], stream)]
        settings = processors[0].settings
        groups = by_backend(settings, processors)
        if not backend.prefix_reads:
            # One source per resource: confd reads each resource's keys on its own (resource.go
            # setVars), and with redis a string `/app` hides `/app/db` from one reading `/app`.
            shared = groups[0][1]
            groups = [(settings, [p]) for p in shared] + groups[1:] if shared else groups
        return [
            _Source(index, None, backend, group, stream)
            if chosen is settings
            else _Source(index, chosen, None, group, stream)
            for index, (chosen, group) in enumerate(groups)
        ]

    @property
    def backend(self) -> Backend:
        """The global backend."""
        return self.sources[0].opened

    @property
    def mirror(self) -> Mirror:
        """The global backend's mirror."""
        return self.sources[0].mirror

    @property
    def streaming(self) -> bool:
        """The global backend's keys are watched (False: they are re-read every -interval)."""
        return self.sources[0].streaming

    # -- life cycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Read the snapshots, render everything once, then start the watches.

        The global backend failing to be read raises, as it always has (the service retries the
        whole start). Each resource's own backend is read on a thread of its own, so one that is
        slow or down (its connect timeout) holds up neither the global one's resources nor the
        other own backends'; one that fails fails its resources only, each in one line, and is
        retried with backoff until it is read.
        """
        own = [source for source in self.sources if source.settings is not None]
        for source in self.sources:
            if source.settings is None:
                self._loaded(source, self._read(source))
        for group in self.groups.values():
            group.start([w for w in self.workers.values() if w.group is group])
        for worker in self.workers.values():
            worker.start()
        loaded = [source for source in self.sources if source.loaded]
        first = {p.resource.name for source in loaded for p in source.processors}
        self._notify(first)
        if any(source.streaming and source.streams for source in loaded):
            self._first_rendered(first, FIRST_RENDER_WAIT)
        failed = [pair for source in loaded for pair in self._open_all(source)]
        for source in loaded:
            self._say_polled(source)
        with self._lock:  # what came while the watches opened, in the order it came
            held, self._held = self._held or [], None
            for item in held:
                self._apply(item)
        for stream, error in failed:
            self._supervise_soon(stream, error)
        for source in own:
            self._spawn(functools.partial(self._reach, source), f"confpy-backend-{source.index}")

    def _read(self, source: _Source) -> Snapshot:
        """A source's full read; a value that is not UTF-8 names the resources that read it.

        A source no resource reads (the global backend, when every resource has its own) is not
        asked at all: it need not even run.
        """
        if not source.processors:
            return Snapshot({})
        try:
            return source.opened.read(source.full_read)
        except ValueDecodeError as exc:  # say which resources read it
            readers = [p.resource.name for p in source.processors if p.resource.owns(exc.key)]
            raise ValueDecodeError(exc.key, ", ".join(readers)) from None

    def _loaded(self, source: _Source, snapshot: Snapshot) -> None:
        """A source's first snapshot, before its watches open."""
        source.mirror.load(snapshot.values, snapshot.revision)
        for stream in source.streams.values():
            stream.applied = snapshot.revision
        self._announce(source, snapshot)

    @staticmethod
    def _announce(source: _Source, snapshot: Snapshot) -> None:
        source.loaded = True
        if source.streaming and source.processors:  # a backend no resource reads is not watched
            log.info(
                "watching %d prefixes for %d resources from revision %d%s",
                len(source.streams),
                len(source.processors),
                snapshot.revision,
                f" of {source.label}" if source.label else "",
            )

    def _failed(self, source: _Source, exc: ConfpyError) -> None:
        """A resource's own backend could not be read at start: each of its resources fails, once."""
        assert source.settings is not None
        for processor in source.processors:
            error = backend_failed(processor.resource, source.settings, exc)
            log.error("%s; retrying", error)
            self._ran(RunRecord(processor.resource.name, 0, None, error, 0.0))

    def _reach(self, source: _Source) -> None:
        """Read an own backend, retrying with backoff until it is read; then render and watch it.

        The first failure fails its resources (one line each); later ones are logged at debug.
        """
        attempt = 0
        while True:
            if attempt and self._stopping.wait(_REACH_BACKOFF.delay(attempt)):
                return
            attempt += 1
            try:
                if source.backend is None:  # not opened yet, or it could not even be opened
                    assert source.settings is not None
                    source.backend = self._pool.get(source.settings)
                elif attempt > 1:
                    source.backend.reconnect()
                snapshot = self._read(source)
            except ConfpyError as exc:
                if attempt == 1:
                    self._failed(source, exc)
                else:
                    log.debug("backend %s: %s (attempt %d)", source.label, exc, attempt)
                continue
            break
        if attempt > 1:
            log.info("backend %s reached after %d attempts", source.label, attempt)
        if not self._load_snapshot(source, tuple(source.streams), snapshot, everyone=True):
            return
        self._announce(source, snapshot)
        for stream, error in self._open_all(source):
            self._supervise_soon(stream, error)
        self._say_polled(source)

    def _say_polled(self, source: _Source) -> None:
        """Warn, once per reason, that a source meant to stream is re-read every interval instead."""
        if not (source.stream and source.processors) or source.streaming:
            return
        reason = (
            source.polling_reason
            or f"the {source.label or source.opened.name} backend cannot watch for changes"
        )
        with self._polled_lock:
            if reason in self._polled_said:
                return
            self._polled_said.add(reason)
        log.warning("%s: re-reading every %g s instead", reason, self._poll_interval)

    def _open_all(self, source: _Source) -> list[tuple[_Stream, BackendError]]:
        """Open a source's watches; those that failed. A server not set up to stream (redis
        without keyspace notifications) is polled instead: `polling_reason` says why."""
        failed: list[tuple[_Stream, BackendError]] = []
        for stream in source.streams.values() if source.streaming else ():
            error = self._open(stream, stream.generation)
            if isinstance(error, WatchUnavailableError):
                source.polling_reason = str(error)
                for opened in source.streams.values():
                    if opened.watch:
                        opened.watch.cancel()
                        opened.watch = None
                return []
            if error is not None:
                failed.append((stream, error))
        return failed

    def _first_rendered(self, names: set[str], timeout: float) -> None:
        """Until each of `names` has run once, or `timeout` seconds have passed."""
        with self._first_runs:
            self._first_runs.wait_for(lambda: self._not_yet_run.isdisjoint(names), timeout)

    def _load_snapshot(
        self, source: _Source, prefixes: tuple[str, ...], snapshot: Snapshot, everyone: bool = False
    ) -> bool:
        """Apply a snapshot (after what came before it); False if stopped first."""
        return self._deliver(_Load(source, prefixes, dict(snapshot.values), snapshot.revision, everyone))

    def stop(self, timeout: float | None = None) -> None:
        """Stop watching; let every write in flight finish; run pending group reloads."""
        self._stopping.set()
        for source in self.sources:
            source.reread.set()
        for stream in self._streams.values():
            stream.inbox.put(None)
            if stream.watch:
                stream.watch.cancel()
        for worker in self.workers.values():
            worker.stop()
        for worker in self.workers.values():
            worker.join(timeout)
        for group in self.groups.values():
            group.stop()
            group.join(timeout)
        for thread in self._threads:
            thread.join(1.0)
        for stream in self._streams.values():
            with stream.lock:
                supervisor = stream.supervisor
            if supervisor is not None:
                supervisor.join(1.0)
        if self._own_pool:
            self._pool.close()

    def reconcile(self) -> None:
        """A full re-read of every backend (the periodic `-interval` in watch mode): fixes anything
        a watch missed. The global backend's failure raises, after the others were read; an own
        backend's is logged, naming it and its resources."""
        failure: ConfpyError | None = None
        for source in self.sources:
            if not source.loaded:  # `_reach` is still trying it
                continue
            try:
                snapshot = self._read(source)
            except ConfpyError as exc:
                if source.settings is None:
                    failure = exc
                else:
                    names = ", ".join(p.resource.name for p in source.processors)
                    log.error("re-reading backend %s (for %s) failed: %s", source.label, names, exc)
                continue
            self._deliver(
                _Load(source, tuple(source.streams), dict(snapshot.values), snapshot.revision, everyone=True)
            )
        if failure is not None:
            raise failure

    @property
    def ready(self) -> bool:
        """Every resource has been rendered at least once (successfully or not)."""
        return not self._not_yet_run

    def _ran(self, record: RunRecord) -> None:
        with self._first_runs:
            if record.name in self._not_yet_run:
                self._not_yet_run.discard(record.name)
                self._first_runs.notify_all()
        if self._on_run:
            self._on_run(record)

    @property
    def stale_for(self) -> float:
        """Seconds since the oldest currently lost stream was lost (0 when all are healthy)."""
        lost = [s.lost_since for s in self._streams.values() if s.lost_since is not None]
        return time.monotonic() - min(lost) if lost else 0.0

    @property
    def revision(self) -> int:
        return self.mirror.revision

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    # -- applying what is delivered: the mirror's one writer at a time ---------------------------

    def _deliver(self, item: _Item) -> bool:
        """Apply `item` on the calling thread, after whatever came before it; held back until the
        watches are open; dropped once stopping (False)."""
        with self._lock:
            if self._stopping.is_set():
                return False
            if self._held is not None:
                self._held.append(item)
            else:
                self._apply(item)
        return True

    def _apply(self, item: _Item) -> None:
        """One delivered item (called with the lock held)."""
        if isinstance(item, Batch):
            stream = self._streams[item.key]
            if item.generation != stream.generation:
                return
            if not item.events:
                self._reread_soon(stream.source)
                return
            fresh = [e for e in item.events if e.revision > stream.applied]
            if not fresh:
                return
            stream.applied = max(e.revision for e in fresh)
            stream.delivered = True
            self._notify(stream.source.mirror.apply(stream.prefix, fresh))
        elif isinstance(item, Failure):
            stream = self._streams[item.key]
            if item.generation == stream.generation:
                stream.generation += 1  # drop anything the dead watch still delivers
                self._supervise_soon(stream, item.error)
        else:
            self._load(item)

    def _load(self, item: _Load) -> None:
        source = item.source
        streams = [source.streams[p] for p in item.prefixes]
        if any(s.applied > item.revision for s in streams):
            log.debug("snapshot at revision %d is older than the watch; skipped", item.revision)
            changed: set[str] = set()
        else:
            for stream in streams:
                stream.applied = item.revision
            changed = source.mirror.load(item.values, item.revision, item.prefixes)
        self._notify({p.resource.name for p in source.processors} if item.everyone else changed)

    def _reread_soon(self, source: _Source) -> None:
        """Ask the source's re-reader for a full read (called with the lock held: one re-reader)."""
        source.reread.set()
        if source.rereader is None:
            source.rereader = threading.Thread(
                target=functools.partial(self._reread_loop, source),
                name=f"confpy-reread-{source.index}",
                daemon=True,
            )
            self._threads.append(source.rereader)
            source.rereader.start()

    def _reread_loop(self, source: _Source) -> None:
        """Full reads, one at a time, for a backend that says "changed" instead of what changed.

        Requests that come during a read are served by one more read after it: a burst of changes
        costs two reads, and the last read always starts after the last change it was told of.
        A read that fails is retried with backoff (the watch's own failure reconnects).
        """
        failures = 0
        while source.reread.wait() and not self._stopping.is_set():
            source.reread.clear()
            try:
                snapshot = self._read(source)
            except ConfpyError as exc:
                failures += 1
                delay = self.backoff.delay(failures)
                log.warning("re-reading after a change failed (%s); again in %.1f s", exc, delay)
                source.reread.set()
                if self._stopping.wait(delay):
                    return
                continue
            failures = 0
            self._deliver(_Load(source, tuple(source.streams), dict(snapshot.values), snapshot.revision))

    def _notify(self, names: set[str]) -> None:
        for name in names:
            self.workers[name].notify()

    # -- a supervisor per broken stream: re-establish the watch ---------------------------------

    def _supervise_soon(self, stream: _Stream, error: BackendError) -> None:
        """Hand a failure to the stream's supervisor, starting one if none runs.

        Supervisors exist only while a stream is broken: an engine watching hundreds of prefixes
        holds no thread per prefix while every watch is healthy.
        """
        stream.inbox.put(error)
        with stream.lock:
            if stream.supervisor is None and not self._stopping.is_set():
                stream.supervisor = threading.Thread(
                    target=functools.partial(self._supervise, stream),
                    name=f"confpy-watch-{stream.prefix}",
                    daemon=True,
                )
                stream.supervisor.start()

    def _supervise(self, stream: _Stream) -> None:
        error = stream.inbox.get()
        while error is not None and not self._stopping.is_set():
            if stream.watch:
                stream.watch.cancel()
                stream.watch = None
            if stream.lost_since is None:
                stream.lost_since = time.monotonic()
            if self._proved_healthy(stream):
                stream.failures = 0
            stream.opened_at = None
            resynced = False
            if isinstance(error, RevisionCompactedError):
                log.warning("watch on %s: %s", stream.label, error)
                resynced = self._resync(stream)
                if resynced:
                    stream.failures = 0
            if not resynced:
                stream.failures += 1
                delay = self.backoff.delay(stream.failures)
                log.warning(
                    "watch on %s lost (%s); resuming from revision %d in %.1f s (attempt %d)",
                    stream.label,
                    error,
                    stream.applied + 1,
                    delay,
                    stream.failures,
                )
                if self._stopping.wait(delay):
                    return
                self.reconnects += 1
                # Resume through a fresh connection, not a possibly wedged one.
                stream.source.opened.reconnect()
            error = self._open(stream, stream.generation)
            if error is None:
                with stream.lock:
                    if stream.inbox.empty():  # healthy again: the next failure starts a new supervisor
                        stream.supervisor = None
                        return
                error = stream.inbox.get()

    def _open(self, stream: _Stream, generation: int) -> BackendError | None:
        """Start the watch from the last applied revision + 1; an error instead if that fails."""
        deliver = deliver_to(self._deliver, stream.key, generation)
        # Read before the watch starts: its first events may be applied before watch() returns.
        after = stream.applied
        try:
            stream.watch = stream.source.opened.watch(stream.prefix, after + 1, deliver)
        except BackendError as exc:
            return exc
        stream.opened_at, stream.delivered = time.monotonic(), False
        if stream.lost_since is not None:
            log.info("watch on %s resumed from revision %d", stream.label, after + 1)
        stream.lost_since = None
        return None

    @staticmethod
    def _proved_healthy(stream: _Stream) -> bool:
        """The watch that just broke delivered an event, or stayed up `HEALTHY_AFTER` seconds.

        A watch that the server accepts and then drops at once (a flapping etcd member, a redis
        that closes the subscription) does not count, so such a stream keeps backing off instead
        of reconnecting in a tight loop.
        """
        if stream.opened_at is None:
            return False
        return stream.delivered or time.monotonic() - stream.opened_at >= HEALTHY_AFTER

    def _resync(self, stream: _Stream) -> bool:
        """After compaction: a fresh snapshot of the prefix, applied in order; False if unreachable."""
        try:
            snapshot = stream.source.opened.read([stream.prefix])
        except ConfpyError as exc:  # unreachable, or (file backend) a file that does not parse
            log.warning("re-reading %s failed: %s", stream.label, exc)
            return False
        return self._load_snapshot(stream.source, (stream.prefix,), snapshot)
