"""Prometheus metrics and the /metrics, /health and /ready endpoints.

Per resource: runs (each renders the template), writes (the destination was replaced), check and
reload failures, failed runs of any kind, retries scheduled and the attempt number of the one due,
the run duration, and when it last succeeded. For the
watch: reconnects, the last applied revision, and how long it has been unhealthy, read from the
watch engine at scrape time so they are never out of date.

The metrics live in their own CollectorRegistry: a library user's process metrics are not mixed in,
and two instances (tests, or two engines in one process) do not collide.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import selectors
import socket
import socketserver
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from confpy.errors import CommandError, ConfigError
from confpy.pipeline.processor import RunRecord
from confpy.pipeline.writer import Outcome

__all__ = ["HealthServer", "Metrics"]

log = logging.getLogger("confpy")

# From a render of a few ms up to check and reload commands that take seconds.
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class _WatchCollector(Collector):
    """Reads the watch engine's state when Prometheus scrapes."""

    def __init__(self) -> None:
        self.revision: Callable[[], int] | None = None
        self.stale_for: Callable[[], float] | None = None
        self.reconnects: Callable[[], int] | None = None

    def collect(self) -> Iterable[Metric]:
        if self.revision is None or self.stale_for is None or self.reconnects is None:
            return []
        try:
            revision, stale, reconnects = self.revision(), self.stale_for(), self.reconnects()
        except Exception as exc:  # a scrape must never fail because of the source
            log.debug("metrics: cannot read the watch state: %s", exc)
            return []
        return [
            GaugeMetricFamily(
                "confpy_last_applied_revision", "Backend revision of the last change applied", revision
            ),
            GaugeMetricFamily(
                "confpy_watch_stale_seconds",
                "Seconds since the watch was last healthy (0 while every watch stream is up)",
                stale,
            ),
            CounterMetricFamily(
                "confpy_watch_reconnects", "Times a broken watch stream was re-established", reconnects
            ),
        ]


class Metrics:
    """confpy's metrics; feed it RunRecords (the watch engine's `on_run`) and a watch source."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.renders = self._counter("confpy_renders", "Runs of the resource (each renders its template)")
        self.writes = self._counter("confpy_writes", "Times the destination was replaced with new content")
        self.check_failures = self._counter(
            "confpy_check_failures", "Runs whose check_cmd failed (the destination was kept)"
        )
        self.reload_failures = self._counter("confpy_reload_failures", "Runs whose reload_cmd failed")
        self.errors = self._counter("confpy_errors", "Runs that failed, for any reason")
        self.retries = self._counter(
            "confpy_retries", "Retries scheduled after a failed write, check_cmd or reload_cmd"
        )
        self.retry_attempt = Gauge(
            "confpy_retry_attempt",
            "Attempt number of the retry now scheduled (0: none is, the last run succeeded or cannot be "
            "retried)",
            ["resource"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "confpy_run_duration_seconds",
            "Duration of a run: render, write, check and reload",
            ["resource"],
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.last_success = Gauge(
            "confpy_last_success_timestamp_seconds",
            "Unix time of the resource's last successful run",
            ["resource"],
            registry=self.registry,
        )
        self._watch = _WatchCollector()
        self.registry.register(self._watch)

    def _counter(self, name: str, documentation: str) -> Counter:
        return Counter(name, documentation, ["resource"], registry=self.registry)

    def record_run(self, record: RunRecord) -> None:
        """Count one run of a resource worker."""
        name = record.name
        self.renders.labels(name).inc()
        self.duration.labels(name).observe(record.duration)
        if record.outcome is Outcome.UPDATED:
            self.writes.labels(name).inc()
        self.retry_attempt.labels(name).set(record.retry)
        if record.retry:
            self.retries.labels(name).inc()
        if record.error is None:
            self.last_success.labels(name).set_to_current_time()
            return
        self.errors.labels(name).inc()
        step = record.error.step if isinstance(record.error, CommandError) else None
        if step == "check_cmd":
            self.check_failures.labels(name).inc()
        elif step == "reload_cmd":
            self.reload_failures.labels(name).inc()

    def set_source(
        self, revision: Callable[[], int], stale_for: Callable[[], float], reconnects: Callable[[], int]
    ) -> None:
        """Where the watch metrics come from (e.g. `lambda: engine.revision`); read at scrape time."""
        self._watch.revision = revision
        self._watch.stale_for = stale_for
        self._watch.reconnects = reconnects

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


def _parse_addr(addr: str) -> tuple[str, int, socket.AddressFamily]:
    """`host:port`, `[v6]:port` or `:port` (every interface, as Go programs read it)."""
    host, sep, port_text = addr.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(f"bad listen address {addr!r}: expected host:port, e.g. 127.0.0.1:9090")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ConfigError(f"bad listen address {addr!r}: write an IPv6 address in brackets, e.g. [::1]:9090")
    family = socket.AF_INET
    try:
        if ipaddress.ip_address(host).version == 6:
            family = socket.AF_INET6
    except ValueError:
        pass  # a host name (resolved by bind), or "" for every interface
    return host, int(port_text), family


class _Server(ThreadingHTTPServer):
    """socketserver's threading HTTP server, served by `serve` until `wake` is written to.

    Not `serve_forever`: it wakes every `poll_interval` (0.5 s) to look for a shutdown request,
    two wake-ups a second of an otherwise idle confpy. Here the thread sleeps until a client
    connects or `stop` writes to the wake-up pipe.
    """

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        family: socket.AddressFamily,
        metrics: Metrics,
        ready: Callable[[], bool],
    ) -> None:
        self.address_family = family
        self.metrics = metrics
        self.ready = ready
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse lookup of the address (slow when DNS is)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def serve(self, wake: int) -> None:
        """Accept and hand each connection to a thread of its own until `wake` is readable."""
        self.socket.setblocking(False)  # a client gone before its accept: no blocking in accept()
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while all(key.fd != wake for key, _ in selector.select()):
                try:
                    request, client = self.get_request()
                except OSError:  # BlockingIOError, ECONNABORTED: nothing to serve after all
                    continue
                try:
                    self.process_request(request, client)
                except Exception:
                    self.handle_error(request, client)
                    self.shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # a client that never finishes its request does not hold a thread forever

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        if path == "/metrics":
            self._reply(200, self.server.metrics.render(), CONTENT_TYPE_LATEST)
        elif path == "/health":
            self._reply(200, b"ok\n")
        elif path == "/ready":
            if self._ready():
                self._reply(200, b"ready\n")
            else:
                self._reply(503, b"not ready\n")
        else:
            self._reply(404, b"not found: try /metrics, /health or /ready\n")

    def _ready(self) -> bool:
        try:
            return bool(self.server.ready())
        except Exception as exc:
            log.warning("readiness check failed: %s", exc)
            return False

    def _reply(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http %s: %s", self.address_string(), format % args)


class HealthServer:
    """Serves /metrics, /health (200 while the process runs) and /ready (200 when `ready()`, else 503)."""

    def __init__(self, addr: str, metrics: Metrics, ready: Callable[[], bool]) -> None:
        self.addr = addr
        self.host, self.port, self._family = _parse_addr(addr)
        self.metrics = metrics
        self.ready = ready
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._wake = (-1, -1)  # the pipe that ends `_Server.serve`, while serving

    def start(self) -> None:
        """Bind and serve in a daemon thread; `port` is then the bound port (useful with port 0)."""
        try:
            server = _Server((self.host, self.port), self._family, self.metrics, self.ready)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {self.addr}: {exc.strerror or exc}") from None
        self._server = server
        self.port = server.server_address[1]
        self._wake = os.pipe()
        self._thread = threading.Thread(
            target=server.serve, args=(self._wake[0],), name="confpy-http", daemon=True
        )
        self._thread.start()
        where = self.host or "every interface"
        log.info("serving /metrics, /health and /ready on %s port %d", where, self.port)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        server, self._server = self._server, None
        if server is None:
            return
        wake_r, wake_w = self._wake
        os.write(wake_w, b"x")
        if self._thread is not None:
            self._thread.join(5)
        server.server_close()  # after the thread: a socket closed under its select could be reused
        os.close(wake_r)
        os.close(wake_w)
