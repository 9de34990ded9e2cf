"""`confpy exec`: confpy as a container's entrypoint, supervising the service it configures.

consul-template's exec mode, which confd never had: register this container's keys, wait for the
keys it needs, render every resource once, then start the command, keep rendering on changes and
reload it (with reload_cmd, or with a signal to the command), forward signals to it, and exit with
its status. Run as PID 1, it also reaps the zombies that orphaned processes leave behind.

The command reads its files when it starts, so nothing is reloaded before it runs: the first
render's files are in place by then, and a change that lands before the start is read by it.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import signal
import threading
import time
from collections.abc import Mapping, Sequence

from confpy.backends import Backend
from confpy.config.backend import BackendPool
from confpy.config.settings import Settings
from confpy.errors import ConfigError, ConfpyError
from confpy.pipeline.processor import ResourceProcessor, RunRecord
from confpy.runtime.signals import SignalRelay
from confpy.runtime.watch import WatchEngine
from confpy.sidecar.child import FORWARDED_SIGNALS, STOP_SIGNALS, Child, ReapGate, signal_name
from confpy.sidecar.register import Registration, open_lease_backend
from confpy.sidecar.wait import KeyWaiter

__all__ = ["ExecProcessor", "ExecSupervisor", "run_exec"]

log = logging.getLogger("confpy")

#: Queue items besides signal numbers: something may have ended; a resource has been rendered.
_CHILD = "child"
_RAN = "ran"
_RESTARTING = "restarting"
_Item = int | str
#: The longest the main thread waits for the first render without asking the engine.
_TICK = 1.0


class ExecProcessor(ResourceProcessor):
    """A resource whose reload belongs to the command: none before it runs (it reads the files
    when it starts), then what its `on_change` says (consul-template #1368, #1488): reload_cmd, a
    signal to the command, a restart of the command, or nothing; after a random `splay`."""

    def __init__(self, base: ResourceProcessor, supervisor: ExecSupervisor) -> None:
        super().__init__(base.resource, base.renderer, base.settings)
        self._supervisor = supervisor

    @property
    def on_change(self) -> str:
        """The resource's `on_change`, or today's default: `-reload-signal`'s signal, else reload_cmd."""
        if self.resource.on_change:
            return self.resource.on_change
        return "signal" if self._supervisor.reload_signal is not None else "reload_cmd"

    @property
    def needs_reload(self) -> bool:
        action = self.on_change
        if action == "reload_cmd":
            return super().needs_reload
        return action != "none" and not self.settings.sync_only and not self.settings.noop

    def running_commands(self) -> contextlib.AbstractContextManager[None]:
        return self._supervisor.gate.command()

    def reload(self) -> None:
        supervisor, child = self._supervisor, self._supervisor.child
        if not self.needs_reload or supervisor.stopping or not child.running:
            return
        name = self.resource.name
        if self.resource.splay:
            delay = random.uniform(0, self.resource.splay)
            log.info("%s: splay: acting on the change in %.1f s", name, delay, extra={"resource": name})
            if supervisor.stopped.wait(delay) or not child.running:
                return
        action = self.on_change
        if action == "reload_cmd":
            with supervisor.gate.command():
                super().reload()
        elif action == "restart":
            if child.restart(self.resource.kill_signal or signal.SIGTERM):
                supervisor.events.put(_RESTARTING)  # the main thread now has a SIGKILL due
        else:
            signum = self.resource.reload_signal or supervisor.reload_signal or signal.SIGHUP
            if child.send(signum):
                log.info("%s: sent %s to %s", name, signum.name, child.name, extra={"resource": name})


class ExecSupervisor:
    """One `confpy exec` run; `run()` returns the exit status."""

    def __init__(
        self,
        settings: Settings,
        child: Child,
        wait_for: list[str],
        register: dict[str, str],
        ttl: int,
        reload_signal: signal.Signals | None,
    ) -> None:
        self.settings = settings
        self.child = child
        self.wait_for = wait_for
        self.register = register
        self.ttl = ttl
        self.reload_signal = reload_signal
        self.stopped = threading.Event()
        """Set once the command is going away: no more reloads (a splay in progress ends)."""
        self.events: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self.gate = ReapGate(lambda: self.events.put(_CHILD))
        self._waiter: KeyWaiter | None = None
        self._first_errors: dict[str, ConfpyError | None] = {}

    # -- signals (on the relay's thread; they only enqueue) -------------------------------------

    @property
    def stopping(self) -> bool:
        return self.stopped.is_set()

    def _on_signal(self, signum: int) -> None:
        if signum == signal.SIGCHLD:
            self.events.put(_CHILD)
            return
        self.events.put(signum)
        if signum in STOP_SIGNALS and self._waiter is not None:
            self._waiter.cancel()

    def _on_run(self, record: RunRecord) -> None:
        self._first_errors.setdefault(record.name, record.error)
        self.events.put(_RAN)

    # -- the run ---------------------------------------------------------------------------------

    def run(self) -> int:
        with SignalRelay((*FORWARDED_SIGNALS, signal.SIGCHLD), self._on_signal):
            return self._run()

    def _run(self) -> int:
        leases = open_lease_backend(self.settings, "-register") if self.register else None
        pool = BackendPool()
        if leases is not None:
            pool.adopt(self.settings, leases)
        backend = pool.get(self.settings)
        registration: Registration | None = None
        engine: WatchEngine | None = None
        try:
            if leases is not None:
                registration = Registration(leases, self.register, self.ttl)
                registration.start()
            status = self._wait_for_keys(backend)
            if status is not None:
                return status
            engine = self._start_engine(backend, pool)
            status = self._first_render(engine)
            if status is not None:
                return status
            try:
                self.child.start()
            except OSError as exc:
                log.error("cannot start %s: %s", self.child.name, exc.strerror)
                return 127 if isinstance(exc, FileNotFoundError) else 126
            return self._supervise(engine, registration)
        except ConfpyError as exc:
            log.error("%s", exc)
            self.child.send(signal.SIGTERM)
            return exc.exit_status  # docs/operations.md: 2 for bad configuration
        finally:
            self.stopped.set()
            if engine is not None:
                engine.stop()
            if registration:
                registration.stop()
            pool.close()

    def _stopped_early(self, item: _Item) -> int | None:
        """Before the command runs: 128+N for stop signal N (the others have no one to go to)."""
        if not isinstance(item, int) or item not in STOP_SIGNALS:
            return None
        log.info("%s before %s started: stopping", signal_name(item), self.child.name)
        return 128 + item

    def _wait_for_keys(self, backend: Backend) -> int | None:
        """Block until every `-wait-for` key exists; an exit status if told to stop first."""
        if self.wait_for:
            self._waiter = KeyWaiter(backend, self.wait_for)
            try:
                self._waiter.wait()
            finally:
                self._waiter = None
        while True:
            try:
                item = self.events.get_nowait()
            except queue.Empty:
                return None
            status = self._stopped_early(item)
            if status is not None:
                return status

    def _start_engine(self, backend: Backend, pool: BackendPool) -> WatchEngine:
        from confpy.runtime.load import load_processors

        processors, errors = load_processors(self.settings)
        if errors:
            raise ConfpyError(
                f"not starting {self.child.name}: {len(errors)} template resource file(s) did not load"
            )
        engine = WatchEngine(
            backend,
            [ExecProcessor(p, self) for p in processors],
            wait=self.settings.wait,
            on_run=self._on_run,
            pool=pool,
            poll_interval=self.settings.poll_interval,
        )
        engine.start()
        return engine

    def _first_render(self, engine: WatchEngine) -> int | None:
        """Wait until every resource has been rendered once; ConfpyError naming those that failed."""
        while not engine.ready:
            try:
                status = self._stopped_early(self.events.get(timeout=_TICK))
            except queue.Empty:
                continue
            if status is not None:
                return status
        failed = sorted(name for name, error in self._first_errors.items() if error is not None)
        if failed:
            raise ConfpyError(
                f"not starting {self.child.name}: the first render failed for {', '.join(failed)}"
            )
        return None

    def _supervise(self, engine: WatchEngine, registration: Registration | None) -> int:
        """Forward signals and re-read periodically until the command ends; its exit status.

        Asleep until something happens: signals, SIGCHLD included, arrive through the relay at
        once, whichever thread the kernel handed them to (it is in place before the command
        starts, so no exit goes unseen); the only clocks are the next -interval re-read and,
        while a restart waits for the command to end, its SIGKILL (`Child.kill_due`).
        """
        next_reconcile = time.monotonic() + self.settings.poll_interval
        while self.child.status is None:
            kill_due = self.child.kill_due()
            due = next_reconcile if kill_due is None else min(next_reconcile, kill_due)
            timeout = max(0.0, due - time.monotonic())
            try:
                item: _Item | None = self.events.get(timeout=timeout)
            except queue.Empty:
                item = None
            if isinstance(item, int):
                self._forward(signal.Signals(item), engine, registration)
            elif item in (_CHILD, None):
                self.gate.reap(self.child)
                self.child.hurry()
            if time.monotonic() >= next_reconcile:
                next_reconcile = time.monotonic() + self.settings.poll_interval
                self._reconcile(engine)
        return self.child.status

    def _forward(
        self, signum: signal.Signals, engine: WatchEngine, registration: Registration | None
    ) -> None:
        stop = signum in STOP_SIGNALS
        if stop:
            self.stopped.set()
            self.child.cancel_restart()
        self.child.forward(signum)
        if stop and registration:
            registration.stop()
        elif signum == signal.SIGHUP and not self.stopping:
            self._reconcile(engine)

    def _reconcile(self, engine: WatchEngine) -> None:
        """Re-read every key and re-render every resource (SIGHUP, and every -interval)."""
        try:
            engine.reconcile()
        except ConfpyError as exc:
            log.error("re-reading the keys failed: %s", exc)


def run_exec(
    settings: Settings,
    command: Sequence[str],
    *,
    wait_for: Sequence[str] = (),
    register: Mapping[str, str] | None = None,
    ttl: int = 15,
    reload_signal: signal.Signals | None = None,
) -> int:
    """`confpy exec`: the command's exit status (128+N if signal N killed it); 1 if confpy failed.

    It always watches, as `-watch` does (not a flag of its own): where the backend cannot watch, it
    re-reads every -interval instead, as watch mode does.
    """
    if not command:
        raise ConfigError("confpy exec needs a command to run, after --")
    child = Child(command)
    watching = settings._replace(watch=True)
    return ExecSupervisor(watching, child, list(wait_for), dict(register or {}), ttl, reload_signal).run()
