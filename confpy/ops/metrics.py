"""Prometheus metrics and the /metrics, /health and /ready endpoints.

Per resource: runs (each renders the template), writes (the destination was replaced), check and
reload failures, failed runs of any kind, retries scheduled and the attempt number of the one due,
the run duration, and when it last succeeded. For the
watch: reconnects, the last applied revision, and how long it has been unhealthy, read from the
watch engine at scrape time so they are never out of date.

Written here, not with prometheus-client and http.server: those two import http.client, the email
parser and ssl (OpenSSL), 8 MiB of every sidecar that serves its metrics, for a text format of
a few lines (Prometheus's exposition format 0.0.4) and one GET per scrape. Each Metrics holds its
own series: two instances (tests, or two engines in one process) do not collide.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator

from confpy.errors import CommandError, ConfigError
from confpy.pipeline.processor import RunRecord
from confpy.pipeline.writer import Outcome

__all__ = ["HealthServer", "Metrics"]

log = logging.getLogger("confpy")

# What Prometheus's text exposition format 0.0.4 is served as, and every other answer.
_METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_TEXT_TYPE = "text/plain; charset=utf-8"
_REVISION_HELP = "Backend revision of the last change applied"
_STALE_HELP = "Seconds since the watch was last healthy (0 while every watch stream is up)"
_RECONNECTS_HELP = "Times a broken watch stream was re-established"
# From a render of a few ms up to check and reload commands that take seconds.
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def _number(value: float) -> str:
    """A sample's value as Prometheus reads it (Go's ParseFloat: `+Inf`, `NaN`, `1.0`)."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return "NaN" if math.isnan(value) else repr(float(value))


def _label(value: str) -> str:
    """A label's value between its quotes (a resource's file name may hold any of these)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _sample(name: str, kind: str, labels: str, value: float) -> str:
    """A counter's or gauge's sample line: a counter's is named `<name>_total`."""
    suffix = "_total" if kind == "counter" else ""
    return f"{name}{suffix}{labels} {_number(value)}\n"


def _family(name: str, kind: str, help: str, samples: Iterator[str]) -> Iterator[str]:
    """One metric family: its HELP and TYPE lines, then its samples."""
    yield f"# HELP {name} {help}\n"  # confpy's own words: no backslash or newline to escape
    yield f"# TYPE {name} {kind}\n"
    yield from samples


class _PerResource:
    """A counter or gauge with a `resource` label: its value by resource."""

    def __init__(self, name: str, kind: str, help: str) -> None:
        self.name, self.kind, self.help = name, kind, help
        self.values: dict[str, float] = {}

    def add(self, resource: str, amount: float = 1.0) -> None:
        self.values[resource] = self.values.get(resource, 0.0) + amount

    def lines(self) -> Iterator[str]:
        return _family(
            self.name,
            self.kind,
            self.help,
            (_sample(self.name, self.kind, f'{{resource="{_label(r)}"}}', v) for r, v in self.values.items()),
        )


class _Durations:
    """The run-duration histogram, by resource: cumulative bucket counts, count and sum."""

    name = "confpy_run_duration_seconds"
    help = "Duration of a run: render, write, check and reload"

    def __init__(self) -> None:
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = {}

    def observe(self, resource: str, seconds: float) -> None:
        counts = self.buckets.setdefault(resource, [0] * (len(_DURATION_BUCKETS) + 1))
        for i, bound in enumerate((*_DURATION_BUCKETS, math.inf)):
            if seconds <= bound:
                counts[i] += 1
        self.sums[resource] = self.sums.get(resource, 0.0) + seconds

    def lines(self) -> Iterator[str]:
        return _family(self.name, "histogram", self.help, self._samples())

    def _samples(self) -> Iterator[str]:
        for resource, counts in self.buckets.items():
            label = f'resource="{_label(resource)}"'
            for bound, count in zip((*_DURATION_BUCKETS, math.inf), counts, strict=True):
                yield f'{self.name}_bucket{{{label},le="{_number(bound)}"}} {_number(count)}\n'
            yield f"{self.name}_count{{{label}}} {_number(counts[-1])}\n"
            yield f"{self.name}_sum{{{label}}} {_number(self.sums[resource])}\n"


class Metrics:
    """confpy's metrics; feed it RunRecords (the watch engine's `on_run`) and a watch source."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # runs are recorded by the workers, read by a scrape
        counter, gauge = "counter", "gauge"
        self.renders = _PerResource(
            "confpy_renders", counter, "Runs of the resource (each renders its template)"
        )
        self.writes = _PerResource(
            "confpy_writes", counter, "Times the destination was replaced with new content"
        )
        self.check_failures = _PerResource(
            "confpy_check_failures", counter, "Runs whose check_cmd failed (the destination was kept)"
        )
        self.reload_failures = _PerResource("confpy_reload_failures", counter, "Runs whose reload_cmd failed")
        self.errors = _PerResource("confpy_errors", counter, "Runs that failed, for any reason")
        self.retries = _PerResource(
            "confpy_retries", counter, "Retries scheduled after a failed write, check_cmd or reload_cmd"
        )
        self.retry_attempt = _PerResource(
            "confpy_retry_attempt",
            gauge,
            "Attempt number of the retry now scheduled (0: none is, the last run succeeded or cannot be "
            "retried)",
        )
        self.duration = _Durations()
        self.last_success = _PerResource(
            "confpy_last_success_timestamp_seconds", gauge, "Unix time of the resource's last successful run"
        )
        self._families = (
            self.renders,
            self.writes,
            self.check_failures,
            self.reload_failures,
            self.errors,
            self.retries,
            self.retry_attempt,
            self.duration,
            self.last_success,
        )
        self._revision: Callable[[], int] | None = None
        self._stale_for: Callable[[], float] | None = None
        self._reconnects: Callable[[], int] | None = None

    def record_run(self, record: RunRecord) -> None:
        """Count one run of a resource worker."""
        name = record.name
        with self._lock:
            self.renders.add(name)
            self.duration.observe(name, record.duration)
            if record.outcome is Outcome.UPDATED:
                self.writes.add(name)
            self.retry_attempt.values[name] = float(record.retry)
            if record.retry:
                self.retries.add(name)
            if record.error is None:
                self.last_success.values[name] = time.time()
                return
            self.errors.add(name)
            step = record.error.step if isinstance(record.error, CommandError) else None
            if step == "check_cmd":
                self.check_failures.add(name)
            elif step == "reload_cmd":
                self.reload_failures.add(name)

    def set_source(
        self, revision: Callable[[], int], stale_for: Callable[[], float], reconnects: Callable[[], int]
    ) -> None:
        """Where the watch metrics come from (e.g. `lambda: engine.revision`); read at scrape time."""
        self._revision, self._stale_for, self._reconnects = revision, stale_for, reconnects

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        with self._lock:
            text = "".join(line for family in self._families for line in family.lines())
        return (text + "".join(self._watch_lines())).encode("utf-8")

    def _watch_lines(self) -> Iterator[str]:
        if self._revision is None or self._stale_for is None or self._reconnects is None:
            return
        try:
            revision, stale, reconnects = self._revision(), self._stale_for(), self._reconnects()
        except Exception as exc:  # a scrape must never fail because of the source
            log.debug("metrics: cannot read the watch state: %s", exc)
            return
        for name, kind, help, value in (
            ("confpy_last_applied_revision", "gauge", _REVISION_HELP, revision),
            ("confpy_watch_stale_seconds", "gauge", _STALE_HELP, stale),
            ("confpy_watch_reconnects", "counter", _RECONNECTS_HELP, reconnects),
        ):
            yield from _family(name, kind, help, iter((_sample(name, kind, "", value),)))


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


_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    503: "Service Unavailable",
}
_MAX_REQUEST = 16 * 1024
_CLIENT_TIMEOUT = 10.0  # a client that never finishes its request does not hold a thread forever


def _serve(listener: socket.socket, wake: int, answer: Callable[[str], tuple[int, bytes, str]]) -> None:
    """Accept until `wake` is readable, each client on a thread of its own.

    Not socketserver's serve_forever: it wakes every 0.5 s to look for a shutdown request, two
    wake-ups a second of an otherwise idle confpy. This thread sleeps until a client connects or
    `HealthServer.stop` writes to the wake-up pipe.
    """
    listener.setblocking(False)  # a client gone before its accept: no blocking in accept()
    with selectors.DefaultSelector() as selector:
        selector.register(listener, selectors.EVENT_READ)
        selector.register(wake, selectors.EVENT_READ)
        while all(key.fd != wake for key, _ in selector.select()):
            try:
                client, peer = listener.accept()
            except OSError:  # BlockingIOError, ECONNABORTED: nothing to serve after all
                continue
            threading.Thread(target=_reply, args=(client, peer, answer), daemon=True).start()


def _reply(client: socket.socket, peer: object, answer: Callable[[str], tuple[int, bytes, str]]) -> None:
    """Read one request and answer it, then close: HTTP/1.1 without keep-alive, as a scrape or a
    probe needs it."""
    with client:
        try:
            client.settimeout(_CLIENT_TIMEOUT)
            request = b""
            while b"\r\n\r\n" not in request and len(request) < _MAX_REQUEST:
                chunk = client.recv(4096)
                if not chunk:
                    return
                request += chunk
            method, _, rest = request.partition(b"\r\n")[0].decode("latin-1").partition(" ")
            target = rest.rpartition(" ")[0] if rest.count(" ") else ""
            if method != "GET":
                status, body, content_type = 405, b"only GET is served\n", _TEXT_TYPE
            elif not target.startswith("/"):
                status, body, content_type = 400, b"bad request\n", _TEXT_TYPE
            else:
                status, body, content_type = answer(target.partition("?")[0])
            head = (
                f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            client.sendall(head.encode("latin-1") + body)
            log.debug("http %s: %s %s %d", peer, method, target, status)
        except OSError as exc:  # the client went away, or took longer than _CLIENT_TIMEOUT
            log.debug("http %s: %s", peer, exc)


class HealthServer:
    """Serves /metrics, /health (200 while the process runs) and /ready (200 when `ready()`, else 503)."""

    def __init__(self, addr: str, metrics: Metrics, ready: Callable[[], bool]) -> None:
        self.addr = addr
        self.host, self.port, self._family = _parse_addr(addr)
        self.metrics = metrics
        self.ready = ready
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._wake = (-1, -1)  # the pipe that ends `_serve`, while serving

    def start(self) -> None:
        """Bind and serve in a daemon thread; `port` is then the bound port (useful with port 0)."""
        listener = socket.socket(self._family, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port))
            listener.listen(16)
        except OSError as exc:
            listener.close()
            raise ConfigError(f"cannot listen on {self.addr}: {exc.strerror or exc}") from None
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._wake = os.pipe()
        self._thread = threading.Thread(
            target=_serve, args=(listener, self._wake[0], self._answer), name="confpy-http", daemon=True
        )
        self._thread.start()
        where = self.host or "every interface"
        log.info("serving /metrics, /health and /ready on %s port %d", where, self.port)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        listener, self._listener = self._listener, None
        if listener is None:
            return
        wake_r, wake_w = self._wake
        os.write(wake_w, b"x")
        if self._thread is not None:
            self._thread.join(5)
        listener.close()  # after the thread: a socket closed under its select could be reused
        os.close(wake_r)
        os.close(wake_w)

    def _answer(self, path: str) -> tuple[int, bytes, str]:
        """A GET of `path`: status, body and content type."""
        if path == "/metrics":
            return 200, self.metrics.render(), _METRICS_TYPE
        if path == "/health":
            return 200, b"ok\n", _TEXT_TYPE
        if path == "/ready":
            return (200, b"ready\n", _TEXT_TYPE) if self._ready() else (503, b"not ready\n", _TEXT_TYPE)
        return 404, b"not found: try /metrics, /health or /ready\n", _TEXT_TYPE

    def _ready(self) -> bool:
        try:
            return bool(self.ready())
        except Exception as exc:
            log.warning("readiness check failed: %s", exc)
            return False
