"""Watch mode's workers: one thread per resource, and one per reload group.

A worker owns its resource: changes only mark it dirty, so a slow or hanging check or reload of
one resource never delays another, and changes that arrive while it is busy are coalesced into
one next run. The debounce follows consul-template's `wait`: run after `min` of quiet, and at the
latest `max` after the first change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from confpy.duration import Wait
from confpy.errors import ConfpyError
from confpy.mirror import Mirror
from confpy.processor import ResourceProcessor
from confpy.writer import Outcome

__all__ = ["ReloadGroup", "ResourceWorker", "RunRecord"]

log = logging.getLogger("confpy")


@dataclass(frozen=True)
class RunRecord:
    """One run of a worker: which resource, from which mirror revision, and what came of it."""

    name: str
    revision: int
    outcome: Outcome | None
    error: ConfpyError | None
    duration: float


class ResourceWorker:
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
        self._cond = threading.Condition()
        self._dirty = False
        self._running = False
        self._stopping = False
        self._first_change = 0.0
        self._last_change = 0.0
        self._thread = threading.Thread(target=self._loop, name=f"confpy-{self.name}", daemon=True)

    def start(self) -> None:
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
        if self.group:
            self.group.poke()

    @property
    def idle(self) -> bool:
        with self._cond:
            return not self._dirty and not self._running

    def stop(self) -> None:
        """Finish the run in flight, if any, and end the thread; pending changes are dropped."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _due(self) -> float:
        """Seconds until the debounced run is due (0: now). Called with the lock held."""
        if self.wait is None:
            return 0.0
        deadline = min(self._last_change + self.wait.min, self._first_change + self.wait.max)
        return max(0.0, deadline - time.monotonic())

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (not self._dirty or self._due() > 0):
                    self._cond.wait(self._due() if self._dirty else None)
                if self._stopping:
                    return
                self._dirty = False
                self._running = True
            try:
                self._run()
            finally:
                with self._cond:
                    self._running = False
                if self.group:
                    self.group.poke()

    def _run(self) -> None:
        store, revision = self.mirror.store_copy(self.name)
        started = time.monotonic()
        outcome: Outcome | None = None
        error: ConfpyError | None = None
        try:
            outcome = self.processor.sync(store).outcome
            if outcome is Outcome.UPDATED:
                if self.group:
                    self.group.changed()
                else:
                    self.processor.reload()
        except ConfpyError as exc:
            log.error("%s", exc)
            error = exc
        except Exception as exc:  # a worker must never die: report and carry on
            log.exception("%s: unexpected error: %s", self.name, exc)
            error = ConfpyError(f"{self.name}: unexpected error: {exc}")
        if self.on_run:
            self.on_run(RunRecord(self.name, revision, outcome, error, time.monotonic() - started))


class ReloadGroup:
    """Resources sharing one reload: it runs once, after every member has settled."""

    def __init__(
        self, name: str, reload: ResourceProcessor, on_run: Callable[[RunRecord], None] | None = None
    ) -> None:
        self.name = name
        self.reload = reload
        self.on_run = on_run
        self.members: Sequence[ResourceWorker] = ()
        self._cond = threading.Condition()
        self._pending = False
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name=f"confpy-group-{name}", daemon=True)

    def start(self, members: Sequence[ResourceWorker]) -> None:
        self.members = members
        self._thread.start()

    def changed(self) -> None:
        with self._cond:
            self._pending = True
            self._cond.notify_all()

    def poke(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not (self._pending and all(m.idle for m in self.members)):
                    self._cond.wait()
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
            if self.on_run:
                record = RunRecord(f"reload_group:{self.name}", 0, None, error, time.monotonic() - started)
                self.on_run(record)
            if last:
                return
