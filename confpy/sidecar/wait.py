"""`confpy wait`: block until keys exist, e.g. a database's address before the service starts.

One read, then one watch per key from the revision after it: no poll loop, and nothing that
happens between the read and the watch is missed. A key exists when etcd holds the key itself or
any key under it as a folder (`/services/db` exists once `/services/db/10.0.0.7` does), as confd
reads keys. Only the current state matters, so a broken watch is simply replaced by a fresh read
and new watches. Backends that cannot watch (env, file) are re-read every second instead.
"""

from __future__ import annotations

import logging
import queue
import signal
import time
from collections.abc import Sequence

from confpy._go.path import path_under
from confpy.backends import Backend, Event, Watch
from confpy.backends.backoff import Backoff
from confpy.config.backend import open_backend
from confpy.config.settings import Settings
from confpy.errors import BackendError
from confpy.runtime.signals import SignalRelay
from confpy.runtime.tagged import Batch, Failure, deliver_to

__all__ = ["KeyWaiter", "run_wait"]

log = logging.getLogger("confpy")

POLL_INTERVAL = 1.0


class _Cancel:
    """Put by `cancel()`: `wait()` returns at once."""


_Item = Batch[str] | Failure[str] | _Cancel


class KeyWaiter:
    """Waits for a set of keys to exist at the same time in one backend."""

    def __init__(self, backend: Backend, keys: Sequence[str], *, backoff_max: float = 5.0) -> None:
        self.backend = backend
        self.keys = list(dict.fromkeys(keys))
        self.cancelled = False
        self._present: dict[str, set[str]] = {k: set() for k in self.keys}
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._watches: list[Watch] = []
        self._generation = 0
        self._backoff = Backoff(first=0.2, cap=backoff_max, jitter=0.2)
        self._announced = False

    @property
    def missing(self) -> list[str]:
        return [k for k in self.keys if not self._present[k]]

    def cancel(self) -> None:
        """Make `wait()` return now; safe to call from a signal handler."""
        self.cancelled = True
        self._queue.put(_Cancel())

    def wait(self, timeout: float | None = None) -> list[str]:
        """Block until every key exists; the keys missing when it returns (none once all exist).

        It returns early, keys still missing, when `timeout` seconds have passed or on `cancel()`.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            return self._run(deadline)
        finally:
            self._drop_watches()

    def _run(self, deadline: float | None) -> list[str]:
        failures = 0
        resync_at: float | None = time.monotonic()
        while self.missing and not self.cancelled:
            now = time.monotonic()
            if resync_at is not None and now >= resync_at:
                try:
                    self._sync()
                    failures = 0
                    resync_at = None if self.backend.supports_watch else now + POLL_INTERVAL
                except BackendError as exc:
                    failures += 1
                    delay = self._backoff.delay(failures)
                    log.warning("waiting for %s: %s; retrying in %.1f s", ", ".join(self.missing), exc, delay)
                    resync_at = time.monotonic() + delay
                continue
            if deadline is not None and now >= deadline:
                break
            limits = [t - now for t in (resync_at, deadline) if t is not None]
            try:
                item = self._queue.get(timeout=min(limits) if limits else None)
            except queue.Empty:
                continue
            if isinstance(item, Batch) and item.generation == self._generation:
                self._apply(item.key, item.events)
            elif isinstance(item, Failure) and item.generation == self._generation:
                log.warning("watch lost (%s); reading again", item.error)
                self._drop_watches()
                resync_at = time.monotonic()
        return self.missing

    def _sync(self) -> None:
        """Read what exists now, then watch every key from the revision after (one may go again)."""
        self._drop_watches()
        snapshot = self.backend.read(self.keys)
        for wanted in self.keys:
            self._update(wanted, {k for k in snapshot.values if path_under(k, wanted)})
        if not self._announced:
            self._announced = True
            for wanted in self.missing:
                log.info("waiting for %s", wanted)
        if not self.missing or not self.backend.supports_watch:
            return
        for wanted in self.keys:
            deliver = deliver_to(self._queue.put, wanted, self._generation)
            self._watches.append(self.backend.watch(wanted, snapshot.revision + 1, deliver))

    def _apply(self, wanted: str, events: list[Event]) -> None:
        present = set(self._present[wanted])
        for event in events:
            if not path_under(event.key, wanted):
                continue
            if event.value is None:
                present.discard(event.key)
            else:
                present.add(event.key)
        self._update(wanted, present)

    def _update(self, wanted: str, present: set[str]) -> None:
        """What exists of `wanted` now, from an event or a read (a backend that cannot watch is
        only read); said when it appears or goes, after the first read has said what is missing."""
        was_missing = not self._present[wanted]
        self._present[wanted] = present
        if not self._announced:
            return
        if was_missing and present:
            log.info("%s exists", wanted)
        elif not present and not was_missing:
            log.info("%s was deleted; waiting for it again", wanted)

    def _drop_watches(self) -> None:
        self._generation += 1
        watches, self._watches = self._watches, []
        for watch in watches:
            watch.cancel()


def run_wait(settings: Settings, keys: Sequence[str], timeout: float | None) -> int:
    """`confpy wait`: 0 once every key exists, 1 on timeout (naming the keys), 128+N on signal N."""
    received: list[int] = []
    with open_backend(settings) as backend:
        waiter = KeyWaiter(backend, keys)

        def on_signal(signum: int) -> None:
            received.append(signum)
            waiter.cancel()

        with SignalRelay((signal.SIGTERM, signal.SIGINT), on_signal):
            missing = waiter.wait(timeout)
    if received:
        return 128 + received[0]
    if missing:
        log.error("timed out after %g s waiting for %s", timeout, ", ".join(missing))
        return 1
    log.info("all %d keys exist", len(waiter.keys))
    return 0
