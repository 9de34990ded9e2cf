"""The long-running process: watch or interval mode, signals, hot reload of the confdir, max-stale.

- SIGHUP, or a change under `<confdir>/conf.d` or `<confdir>/templates`, re-reads confd.toml,
  the resources and the templates without a restart. The confdir watcher starts after the first
  render (importing watchdog and starting its threads would delay that render by ~9 ms); a change
  made before it runs is found by comparing the confdir with its state before the first load.
- SIGTERM/SIGINT stop gracefully: the write in flight finishes, no stage file is left, exit 0.
  A second signal exits at once. Either is acted on at once whichever thread receives it
  (`SignalRelay`).
- `-max-stale`: exit non-zero when the watch has been lost for longer (for supervisors that
  prefer a restart).
- systemd (`Type=notify`): READY=1 after the first render, WATCHDOG=1 while the watch is
  healthy, STATUS= with the last revision. `-metrics-addr` serves /metrics, /health and /ready.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from confpy.backends.backoff import Backoff
from confpy.config.backend import BackendPool
from confpy.config.resource import TemplateResource
from confpy.config.settings import Settings
from confpy.errors import EXIT_STALE, ConfigError, ConfpyError, EndpointError
from confpy.log import setup_logging
from confpy.ops.sdnotify import notify, watchdog_period
from confpy.pipeline.processor import RunRecord
from confpy.runtime.noop import show_diff
from confpy.runtime.signals import SignalRelay, stop_once
from confpy.runtime.watch import WatchEngine

if TYPE_CHECKING:
    from watchdog.observers.api import BaseObserver

    from confpy.ops.metrics import HealthServer, Metrics

__all__ = ["Service", "run_service"]

log = logging.getLogger("confpy")
# watchdog has no handler of its own, so Python printed its one expected complaint, an emitter
# stopped while it starts ("queue_events() called when the thread is inactive", seen when confpy
# stops right after its first render), as a bare line on stderr; its real failures raise in
# `_watch_confdir`. A library's NullHandler: its records reach only handlers a user configured.
logging.getLogger("watchdog").addHandler(logging.NullHandler())

_Command = Literal["reload", "stop", "reconcile", "ready"]
_HOT_RELOAD_DELAY = 0.3
# The confdir watcher starts once every resource has rendered, or this long after the start if
# the first render takes longer (a slow check_cmd), so that a change is never held up for long.
_WATCH_CONFDIR_WITHIN = 1.0
# Starts of the watcher while its folders keep going away as it starts, before it gives up.
_WATCH_ATTEMPTS = 3
# Between attempts to start an engine while the backend is unreachable at start or after a reload.
_START_BACKOFF = Backoff(first=1.0, cap=5.0)
#: What the confdir watcher would see change: each file's path and a hash of its content (None
#: where it cannot be read: a folder, a fifo, a file without permission).
_State = dict[str, int | None]


class Service:
    """Runs one engine at a time and replaces it on reload; the main thread only handles commands."""

    def __init__(self, settings: Settings, reload: Callable[[], Settings]) -> None:
        self.settings = settings
        self._reload_settings = reload
        self.commands: queue.SimpleQueue[_Command] = queue.SimpleQueue()
        self.engine: WatchEngine | None = None
        # The resources of the last engine that started, by file: kept for files a reload cannot load.
        self._running: dict[Path, TemplateResource] = {}
        self._backends: BackendPool | None = None
        self._stopping = threading.Event()
        self._observer: BaseObserver | None = None
        # Until the confdir watcher runs (watch mode): the folders it will watch, their state
        # before the first load, and when it starts at the latest.
        self._unwatched: tuple[tuple[Path, ...], _State, float] | None = None
        self._timer: threading.Timer | None = None
        self._announced = False
        # An engine has started once: the backend was reached as configured.
        self._reached = False
        self.metrics: Metrics | None = None
        if settings.metrics_addr:  # the metrics module is imported only for -metrics-addr
            from confpy.ops.metrics import Metrics

            self.metrics = Metrics()
        self._watchdog = watchdog_period()

    # -- observability --------------------------------------------------------------------------

    def _on_run(self, record: RunRecord) -> None:
        """Called by workers: show -noop's diff, count the run; the first time every resource has
        run, say so."""
        show_diff(record)
        if self.metrics:
            self.metrics.record_run(record)
        engine = self.engine
        if not self._announced and engine is not None and engine.ready:
            self._announced = True
            self.commands.put("ready")

    @property
    def ready(self) -> bool:
        """First render done and the watch alive."""
        engine = self.engine
        return engine is not None and engine.ready and engine.stale_for == 0

    def _status(self) -> str:
        engine = self.engine
        if engine is None:
            return "STATUS=waiting for the backend"
        if engine.stale_for:
            return f"STATUS=watch lost for {engine.stale_for:.0f} s, last revision {engine.revision}"
        mode = "watching" if engine.streaming else "polling"
        return f"STATUS={mode} {len(engine.workers)} resources, revision {engine.revision}"

    def _start_http(self) -> HealthServer | None:
        if self.metrics is None or not self.settings.metrics_addr:
            return None
        from confpy.ops.metrics import HealthServer

        server = HealthServer(self.settings.metrics_addr, self.metrics, ready=lambda: self.ready)
        self.metrics.set_source(
            revision=lambda: self.engine.revision if self.engine else 0,
            stale_for=lambda: self.engine.stale_for if self.engine else 0.0,
            reconnects=lambda: self.engine.reconnects if self.engine else 0,
        )
        server.start()
        return server

    # -- signals and hot reload -----------------------------------------------------------------

    def _on_signal(self, signum: int) -> None:
        """On the relay's thread: SIGHUP reloads; a stop signal stops, a second one exits now."""
        if signum == signal.SIGHUP:
            self.commands.put("reload")
            return
        stop_once(self._stopping, signum)
        self.commands.put("stop")

    def _watch_confdir(self, folders: Sequence[Path], before: _State) -> None:
        """Changes to conf.d/ or templates/ act as SIGHUP, debounced; so does a change made since
        `before` was taken, which the watcher, started only now, cannot see."""
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        service = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type in ("created", "deleted", "modified", "moved"):
                    service._schedule_reload()

        for attempt in range(_WATCH_ATTEMPTS):
            observer = Observer()
            for folder in folders:
                if folder.is_dir():
                    observer.schedule(Handler(), str(folder), recursive=True)
            observer.daemon = True
            try:
                observer.start()  # its inotify watches are in place when it returns
                break
            except FileNotFoundError:  # a folder went away meanwhile (renamed): the next leaves it out
                observer.stop()  # the folders it did watch
                if attempt == _WATCH_ATTEMPTS - 1:
                    raise
        self._observer = observer
        if _state(folders) != before:
            log.debug("conf.d or templates changed before the confdir watcher started")
            self._schedule_reload()

    def _watch_confdir_when_due(self) -> None:
        """Start the confdir watcher once the first render is done, the engine could not start,
        or `_WATCH_CONFDIR_WITHIN` has passed."""
        if self._unwatched is None:
            return
        folders, before, due = self._unwatched
        if self.engine is None or self.engine.ready or time.monotonic() >= due:
            self._unwatched = None
            self._watch_confdir(folders, before)

    def _schedule_reload(self) -> None:
        if self._timer:
            self._timer.cancel()
        self._timer = threading.Timer(_HOT_RELOAD_DELAY, lambda: self.commands.put("reload"))
        self._timer.daemon = True
        self._timer.start()

    # -- engines --------------------------------------------------------------------------------

    def _start_engine(self, settings: Settings) -> WatchEngine:
        from confpy.runtime.load import load_processors

        processors, _errors = load_processors(settings, self._running)
        pool = BackendPool()
        engine = WatchEngine(
            pool.get(settings),
            processors,
            wait=settings.wait,
            stream=settings.watch,
            on_run=self._on_run,
            pool=pool,
            poll_interval=settings.poll_interval,
        )
        self.engine = engine
        try:
            engine.start()
        except BaseException:
            self.engine = None
            pool.close()
            raise
        self._backends = pool
        self._running = {p.resource.path: p.resource for p in processors}
        self._reached = True
        return engine

    def _stop_engine(self) -> None:
        if self.engine:
            self.engine.stop()
            self.engine = None
        if self._backends:
            self._backends.close()
            self._backends = None

    def _reload(self) -> None:
        try:
            settings = self._reload_settings()
        except ConfigError as exc:
            log.error("reload refused, keeping the running configuration: %s", exc)
            return
        setup_logging(settings.log_level, settings.log_format)
        log.info("reloading confd.toml, conf.d and templates")
        notify("RELOADING=1")
        self._stop_engine()
        self.settings = settings
        self._announced = False

    # -- the main loop --------------------------------------------------------------------------

    def run(self) -> int:
        with SignalRelay((signal.SIGHUP, signal.SIGTERM, signal.SIGINT), self._on_signal):
            if self.settings.watch:
                folders = (self.settings.confdir / "conf.d", self.settings.templates_dir)
                self._unwatched = (folders, _state(folders), time.monotonic() + _WATCH_CONFDIR_WITHIN)
            http = self._start_http()
            try:
                return self._loop()
            finally:
                notify("STOPPING=1")
                if self._observer:  # a library call leaves no thread behind to reload a service gone
                    self._observer.stop()
                    self._observer.join(5)
                self._stop_engine()
                if self._timer:
                    self._timer.cancel()
                if http:
                    http.stop()

    def _loop(self) -> int:
        failures = 0
        lost_since: float | None = None
        next_reconcile = time.monotonic() + self.settings.poll_interval
        while True:
            if self.engine is None:
                try:
                    self._start_engine(self.settings)
                    failures, lost_since = 0, None
                    next_reconcile = time.monotonic() + self.settings.poll_interval
                except ConfpyError as exc:
                    log.error("%s", exc)
                    if isinstance(exc, EndpointError) and not self._reached:
                        # The endpoint answered that the configuration is wrong (not etcd, TLS,
                        # login): exit 2 as -onetime does, where retrying would hide it. Once it
                        # was reached, it is retried as any error is (a certificate being rotated).
                        return exc.exit_status
                    failures += 1
                    lost_since = lost_since or time.monotonic()
            self._watch_confdir_when_due()
            stale = (
                self.engine.stale_for if self.engine else time.monotonic() - (lost_since or time.monotonic())
            )
            if self.settings.max_stale and stale > self.settings.max_stale:
                log.error(
                    "no working watch for %.0f s (-max-stale %g s): exiting", stale, self.settings.max_stale
                )
                return EXIT_STALE
            timeout = self._timeout(next_reconcile, failures)
            command: _Command | None
            try:
                command = self.commands.get(timeout=timeout)
            except queue.Empty:
                command = "reconcile" if time.monotonic() >= next_reconcile else None
            if self._watchdog and self.ready:
                notify("WATCHDOG=1", self._status())
            if command == "stop":
                log.info("stopping: finishing the writes in flight")
                return 0
            if command == "ready":
                notify("READY=1", self._status())
            elif command == "reload":
                self._reload()
            elif command == "reconcile" and self.engine is not None:
                next_reconcile = time.monotonic() + self.settings.poll_interval
                try:
                    self.engine.reconcile()
                except ConfpyError as exc:
                    log.error("periodic re-read failed: %s", exc)

    def _timeout(self, next_reconcile: float, failures: int) -> float:
        """How long the main thread may sleep: until the next reconcile, retry, or stale check."""
        timeout = max(0.0, next_reconcile - time.monotonic())
        if self.engine is None:
            timeout = min(timeout, _START_BACKOFF.delay(failures))
        if self.settings.max_stale:
            timeout = min(timeout, 1.0)
        if self._watchdog:
            timeout = min(timeout, self._watchdog)
        if self._unwatched is not None:
            timeout = min(timeout, max(0.0, self._unwatched[2] - time.monotonic()))
        return timeout


def _state(folders: Sequence[Path]) -> _State:
    """The state of every file and folder under `folders`. Contents, not stat times: a file
    rewritten within the same tick of the kernel's file clock keeps its mtime."""
    state: _State = {}
    pending = [str(folder) for folder in folders]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:  # absent, or gone meanwhile
            continue
        state[folder] = None
        for entry in entries:
            state[entry.path] = None
            if entry.is_dir(follow_symlinks=False):  # as the watcher: linked folders are not followed
                pending.append(entry.path)
                continue
            try:
                if entry.is_file():
                    with open(entry.path, "rb") as file:
                        state[entry.path] = hash(file.read())
            except OSError:  # unreadable, or gone meanwhile
                pass
    return state


def run_service(settings: Settings, reload: Callable[[], Settings]) -> int:
    """Watch (`-watch`) or interval mode until stopped; the exit status."""
    if not settings.watch:
        log.info("re-reading every %g s", settings.poll_interval)
    return Service(settings, reload).run()
