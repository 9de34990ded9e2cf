"""Watch mode's workers: one thread per resource or commit group, and one per reload group.

A worker owns its resource: changes only mark it dirty, so a slow or hanging check or reload of
one resource never delays another, and changes that arrive while it is busy are coalesced into
one next run. The debounce follows consul-template's `wait`: run after `min` of quiet, and at the
latest `max` after the first change.

A worker's thread exists only while its resource has work: it is started by the first change and
ends after `LINGER` seconds without one, so an idle confpy with hundreds of resources holds no
worker threads (each would keep its stack resident).

A reload is skipped while a newer change is already waiting: reloading a config that is superseded
costs the service a reload for nothing. The run that catches up reloads, and a reload is never
deferred longer than `MAX_RELOAD_DEFER`, so a stream of changes cannot starve it.

A run whose write, check_cmd or reload_cmd failed (a full disk, a read-only remount, a service
that was down) is retried after `RETRY.delay(attempt)` until it succeeds, each retry logged with
its attempt and delay; a change that arrives meanwhile runs at once as usual. A template that
fails to render is not retried: the same keys render the same way, so it waits for a change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from confpy.backends.backoff import Backoff
from confpy.backends.base import Snapshot
from confpy.config.duration import Wait
from confpy.errors import BackendError, CommandError, ConfpyError, WriteError, context
from confpy.pipeline.processor import CommitGroup, ResourceProcessor, RunRecord
from confpy.pipeline.writer import Outcome, WriteResult
from confpy.runtime.mirror import Mirror
from confpy.store import KeyStore

__all__ = ["LINGER", "MAX_RELOAD_DEFER", "RETRY", "CommitWorker", "ReloadGroup", "ResourceWorker"]

log = logging.getLogger("confpy")

LINGER = 2.0
MAX_RELOAD_DEFER = 0.1
#: After a failed write, check or reload: 1 s, doubling to 1 min, plus up to 1 s of jitter.
RETRY = Backoff(first=1.0, cap=60.0, jitter=1.0)


def _retryable(error: ConfpyError | None) -> bool:
    """Failures that may pass on a second try with the same keys: the disk, the commands, and a
    commit group's read (a backend that is down or reconnecting)."""
    return isinstance(error, WriteError | CommandError | BackendError)


class _Retry:
    """The failures in a row of one resource or group, and when the next retry is due."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.failures = 0
        self.due: float | None = None

    def after(self, error: ConfpyError | None) -> int:
        """Record a run's outcome; the attempt number of the retry it schedules (0: none)."""
        if not _retryable(error):
            if error is None and self.failures:
                plural = "s" if self.failures > 1 else ""
                log.info("%s: succeeded after %d failed attempt%s", self.name, self.failures, plural)
            self.failures, self.due = 0, None
            return 0
        self.failures += 1
        delay = RETRY.delay(self.failures)
        self.due = time.monotonic() + delay
        log.warning("%s: retrying in %.1f s (attempt %d)", self.name, delay, self.failures)
        return self.failures


class _Wakeup:
    """A condition variable for one waiting thread (a worker's own): the lock that guards the
    worker's state, and a second lock, held while no wake-up is owed, that notify releases.

    threading.Condition allocates a lock per wait and runs ~40 lines of Python per wait and
    notify; a worker's wake-up lies on the path from a put to its file. Notify to the waiter
    running, 20 ms between wake-ups: 62 us with a Condition, 35 with this. A notify while nobody
    waits makes the next wait return at once: every wait here re-checks its state.
    """

    __slots__ = ("_lock", "_owed", "_signal")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._signal = threading.Lock()
        self._signal.acquire()
        self._owed = False

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def wait(self, timeout: float | None) -> None:
        """Until notified or `timeout` seconds passed; called with the lock held (released meanwhile)."""
        if not self._owed:
            self._lock.release()
            try:
                self._signal.acquire(True, -1 if timeout is None else max(timeout, 0.0))
            finally:
                self._lock.acquire()
        if self._owed:
            # Held again: taken by the wake-up, or now if the notify came after the timeout (or
            # before this wait). Never blocks, so no wait can lose a wake-up that is owed.
            self._signal.acquire(False)
            self._owed = False

    def notify_all(self) -> None:
        """Wake the waiter; called with the lock held."""
        if not self._owed:
            self._owed = True
            self._signal.release()


class _Loop:
    """A thread that sleeps on a condition until there is work or it is told to stop.

    `stop()` lets the run in flight finish; what is pending then is the subclass's business.
    """

    def __init__(self) -> None:
        self._cond = _Wakeup()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def join(self, timeout: float | None = None) -> None:
        with self._cond:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)


class ResourceWorker(_Loop):
    """Renders and applies one resource whenever its keys change."""

    def __init__(
        self,
        processor: ResourceProcessor,
        mirror: Mirror,
        *,
        wait: Wait | None = None,
        group: ReloadGroup | None = None,
        on_run: Callable[[RunRecord], None] | None = None,
    ) -> None:
        self.processor = processor
        self.name = processor.resource.name
        self.mirror = mirror
        self.wait = processor.resource.wait or wait
        self.group = group
        self.on_run = on_run
        super().__init__()
        self._dirty = False
        self._running = False
        self._first_change = 0.0
        self._last_change = 0.0
        self._reload_owed_since: float | None = None  # dest updated, reload not yet run
        self._started = False
        self._retry = _Retry(self.name)

    def start(self) -> None:
        """Let changes start the worker's thread (and start it now if a change is pending)."""
        with self._cond:
            self._started = True
            if self._dirty:
                self._spawn()

    def _spawn(self) -> None:
        """Start the thread unless it runs or the worker stops. Called with the lock held."""
        if self._thread is None and self._started and not self._stopping:
            self._thread = threading.Thread(target=self._loop, name=f"confpy-{self.name}", daemon=True)
            self._thread.start()

    def notify(self) -> None:
        """Something this resource reads has changed: run again (after the debounce)."""
        now = time.monotonic()
        with self._cond:
            if not self._dirty:
                self._first_change = now
            self._dirty = True
            self._last_change = now
            self._cond.notify_all()
            self._spawn()
        if self.group:
            self.group.poke()

    @property
    def idle(self) -> bool:
        with self._cond:
            return not self._dirty and not self._running

    def _due(self) -> float:
        """Seconds until the debounced run is due (0: now). Called with the lock held."""
        if self.wait is None:
            return 0.0
        deadline = min(self._last_change + self.wait.min, self._first_change + self.wait.max)
        return max(0.0, deadline - time.monotonic())

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._wait_for_work():
                    self._thread = None  # a later change starts a new thread
                    return
                if self._stopping:
                    break
                self._dirty = False
                self._retry.due = None
                self._running = True
            try:
                self._run()
            finally:
                with self._cond:
                    self._running = False
                if self.group:
                    self.group.poke()
        if self._reload_owed_since is not None:
            self._reload()

    def _run(self) -> None:
        with context(resource=self.name):  # what the run and its retry log is about this resource
            self._run_once()

    def _view(self) -> tuple[KeyStore | None, int]:
        """What a run renders from: a copy of this resource's store in the mirror, and its revision."""
        return self.mirror.store_copy(self.name)

    def _sync(self, store: KeyStore | None) -> WriteResult:
        assert store is not None
        return self.processor.sync(store)

    def _rendered_at(self, viewed: int) -> int:
        """The revision the run rendered from: the one its view was taken at."""
        return viewed

    def _run_once(self) -> None:
        store, revision = self._view()
        started = time.monotonic()
        outcome: Outcome | None = None
        diff: str | None = None
        error: ConfpyError | None = None
        try:
            result = self._sync(store)
            outcome, diff = result.outcome, result.diff
            if outcome is Outcome.UPDATED:
                if self.group:
                    self.group.changed()
                elif self._reload_owed_since is None:
                    self._reload_owed_since = started
        except ConfpyError as exc:
            log.error("%s", exc)
            error = exc
        except Exception as exc:  # a worker must never die: report and carry on
            log.exception("%s: unexpected error: %s", self.name, exc)
            error = ConfpyError(f"{self.name}: unexpected error: {exc}", resource=self.name)
        if self._reload_due():
            error = self._reload() or error
        with self._cond:
            retry = self._retry.after(error)
        if self.on_run:
            duration = time.monotonic() - started
            revision = self._rendered_at(revision)
            self.on_run(RunRecord(self.name, revision, outcome, error, duration, retry, diff))

    def _wait_for_work(self) -> bool:
        """Until stopping, a due change or a due retry; False after LINGER seconds without any.

        Called with the lock held.
        """
        idle_until = time.monotonic() + LINGER
        while not self._stopping:
            now = time.monotonic()
            if self._dirty:
                if self._due() <= 0:
                    return True
                self._cond.wait(self._due())
            elif self._retry.due is not None:
                if now >= self._retry.due:
                    return True
                self._cond.wait(self._retry.due - now)
            elif now >= idle_until:
                return False
            else:
                self._cond.wait(idle_until - now)
        return True

    def _reload_due(self) -> bool:
        """A reload is owed and no newer change waits, or it has waited long enough."""
        if self._reload_owed_since is None:
            return False
        with self._cond:
            superseded = self._dirty
        return not superseded or time.monotonic() - self._reload_owed_since >= MAX_RELOAD_DEFER

    def _reload(self) -> ConfpyError | None:
        """Run the owed reload; a failed one stays owed, for the retry (the dest is in sync by then)."""
        owed_since, self._reload_owed_since = self._reload_owed_since, None
        try:
            self.processor.reload()
        except ConfpyError as exc:
            log.error("%s", exc)
            self._reload_owed_since = owed_since
            return exc
        except Exception as exc:  # a worker must never die: report and carry on
            log.exception("%s: unexpected error: %s", self.name, exc, extra={"resource": self.name})
            return ConfpyError(f"{self.name}: unexpected error: {exc}", resource=self.name)
        return None


class CommitWorker(ResourceWorker):
    """The one worker of a commit group: each run reads every member's keys in one backend read.

    The mirror cannot give one revision across members: each watched prefix has its own stream,
    and a transaction that writes a certificate under one prefix and its key under another arrives
    as two batches. So the mirror only says when to run, and the run reads the group's keys at one
    revision (never an older one than the group last wrote), renders and commits every member as
    one, and reloads once (or tells its reload group). A read that fails (etcd down, reconnecting)
    is retried as a failed write is.
    """

    def __init__(
        self,
        commit: CommitGroup,
        read: Callable[[Sequence[str]], Snapshot],
        mirror: Mirror,
        *,
        wait: Wait | None = None,
        group: ReloadGroup | None = None,
        on_run: Callable[[RunRecord], None] | None = None,
    ) -> None:
        def each_member(record: RunRecord) -> None:
            for member in commit.members:
                if on_run:
                    on_run(record._replace(name=member.resource.name))

        super().__init__(commit.reloader, mirror, wait=commit.wait or wait, group=group, on_run=each_member)
        self.commit = commit
        self.read = read
        self.name = commit.label
        self._retry = _Retry(commit.label)
        self._read_revision = 0

    def _view(self) -> tuple[KeyStore | None, int]:
        return None, self._read_revision

    def _rendered_at(self, viewed: int) -> int:
        """The revision of the run's own read (the last one, if this run's read failed)."""
        return self._read_revision

    def _sync(self, store: KeyStore | None) -> WriteResult:
        snapshot = self.read(self.commit.keys)
        if snapshot.revision < self._read_revision:
            raise BackendError(
                f"{self.commit.label}: the backend answered from revision {snapshot.revision}, older "
                f"than revision {self._read_revision} already written: not going back"
            )
        self._read_revision = snapshot.revision
        results = self.commit.sync(snapshot.values)
        outcomes = {r.outcome for r in results}
        outcome = next((o for o in (Outcome.UPDATED, Outcome.WOULD_UPDATE) if o in outcomes), Outcome.IN_SYNC)
        return WriteResult(outcome, "".join(r.diff for r in results if r.diff) or None)


class ReloadGroup(_Loop):
    """Resources sharing one reload: it runs once, after every member has settled."""

    def __init__(
        self, name: str, reload: ResourceProcessor, on_run: Callable[[RunRecord], None] | None = None
    ) -> None:
        self.name = name
        self.reload = reload
        self.on_run = on_run
        self.members: Sequence[ResourceWorker] = ()
        super().__init__()
        self._pending = False
        self._retry = _Retry(f"reload group {name}")

    def start(self, members: Sequence[ResourceWorker]) -> None:
        self.members = members
        self._thread = threading.Thread(target=self._loop, name=f"confpy-group-{self.name}", daemon=True)
        self._thread.start()

    def changed(self) -> None:
        with self._cond:
            self._pending = True
            self._cond.notify_all()

    def poke(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not (self._pending and all(m.idle for m in self.members)):
                    due = self._retry.due
                    if due is not None and time.monotonic() >= due:
                        self._retry.due, self._pending = None, True
                        continue
                    self._cond.wait(None if due is None else due - time.monotonic())
                if not self._pending:
                    return
                self._pending = False
                last = self._stopping
            started = time.monotonic()
            error: ConfpyError | None = None
            try:
                self.reload.reload()
            except ConfpyError as exc:
                log.error("reload group %s: %s", self.name, exc)
                error = exc
            with self._cond:
                retry = 0 if last else self._retry.after(error)
            if self.on_run:
                duration = time.monotonic() - started
                self.on_run(RunRecord(f"reload_group:{self.name}", 0, None, error, duration, retry))
            if last:
                return
