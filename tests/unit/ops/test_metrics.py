"""Metrics from run records and a watch engine, served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from confpy.backends.memory import MemoryBackend
from confpy.config.settings import Settings
from confpy.errors import CommandError, ConfigError, TemplateError, WriteError
from confpy.ops.metrics import HealthServer, Metrics
from confpy.pipeline.commands import run_command
from confpy.pipeline.processor import RunRecord
from confpy.pipeline.writer import Outcome
from confpy.runtime.load import load_processors
from confpy.runtime.watch import WatchEngine
from tests.support.helpers import make_confdir, voluntary_switches, wait_until


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition: (name, sorted labels) -> value."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(metrics.render().decode("utf-8")):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return _samples(metrics).get((name, tuple(sorted(labels.items()))))


def _command_error(step: str) -> CommandError:
    """A CommandError exactly as run_command raises it for a failing check or reload of a.toml."""
    with pytest.raises(CommandError) as info:
        run_command("exit 3", timeout=10, what=f"{step} for a.toml", step=step)
    return info.value


def test_runs_are_counted_by_what_happened() -> None:
    metrics = Metrics()
    metrics.record_run(RunRecord("a.toml", 5, Outcome.UPDATED, None, 0.02))
    metrics.record_run(RunRecord("a.toml", 6, Outcome.IN_SYNC, None, 0.001))
    metrics.record_run(RunRecord("a.toml", 7, None, _command_error("check_cmd"), 0.3))
    metrics.record_run(RunRecord("a.toml", 8, Outcome.UPDATED, _command_error("reload_cmd"), 1.5))
    metrics.record_run(
        RunRecord("b.toml", 8, None, TemplateError("b.toml: b.j2:1: key does not exist: /x"), 0.01)
    )

    def value(name: str, resource: str) -> float | None:
        return _value(metrics, name, resource=resource)

    assert value("confpy_renders_total", "a.toml") == 4
    assert value("confpy_writes_total", "a.toml") == 2
    assert value("confpy_check_failures_total", "a.toml") == 1
    assert value("confpy_reload_failures_total", "a.toml") == 1
    assert value("confpy_errors_total", "a.toml") == 2
    assert value("confpy_renders_total", "b.toml") == 1
    assert value("confpy_errors_total", "b.toml") == 1
    assert value("confpy_check_failures_total", "b.toml") is None
    assert value("confpy_writes_total", "b.toml") is None
    assert value("confpy_run_duration_seconds_count", "a.toml") == 4
    assert value("confpy_run_duration_seconds_sum", "a.toml") == pytest.approx(1.821)
    assert _value(metrics, "confpy_run_duration_seconds_bucket", resource="a.toml", le="0.005") == 1
    assert _value(metrics, "confpy_run_duration_seconds_bucket", resource="a.toml", le="+Inf") == 4
    last = value("confpy_last_success_timestamp_seconds", "a.toml")
    assert last is not None and abs(last - time.time()) < 60
    assert value("confpy_last_success_timestamp_seconds", "b.toml") is None


def test_retries_are_counted_and_the_attempt_due_is_a_gauge() -> None:
    metrics = Metrics()
    full = WriteError("a.toml: cannot write stage file /d/.a.conf.1: No space left on device")
    metrics.record_run(RunRecord("a.toml", 5, None, full, 0.01, retry=1))
    metrics.record_run(RunRecord("a.toml", 5, None, full, 0.01, retry=2))
    assert _value(metrics, "confpy_retries_total", resource="a.toml") == 2
    assert _value(metrics, "confpy_retry_attempt", resource="a.toml") == 2
    metrics.record_run(RunRecord("a.toml", 5, Outcome.UPDATED, None, 0.01))
    assert _value(metrics, "confpy_retries_total", resource="a.toml") == 2
    assert _value(metrics, "confpy_retry_attempt", resource="a.toml") == 0


def test_watch_source_is_read_at_scrape_time() -> None:
    metrics = Metrics()
    assert _value(metrics, "confpy_last_applied_revision") is None
    state = {"revision": 10, "stale": 0.0, "reconnects": 0}
    metrics.set_source(lambda: state["revision"], lambda: state["stale"], lambda: int(state["reconnects"]))
    assert _value(metrics, "confpy_last_applied_revision") == 10
    assert _value(metrics, "confpy_watch_stale_seconds") == 0
    assert _value(metrics, "confpy_watch_reconnects_total") == 0
    state.update(revision=42, stale=3.5, reconnects=2)
    assert _value(metrics, "confpy_last_applied_revision") == 42
    assert _value(metrics, "confpy_watch_stale_seconds") == 3.5
    assert _value(metrics, "confpy_watch_reconnects_total") == 2


def test_a_failing_source_does_not_break_the_scrape() -> None:
    metrics = Metrics()
    metrics.record_run(RunRecord("a.toml", 1, Outcome.IN_SYNC, None, 0.01))

    def broken() -> int:
        raise RuntimeError("engine gone")

    metrics.set_source(broken, lambda: 0.0, lambda: 0)
    assert _value(metrics, "confpy_renders_total", resource="a.toml") == 1
    assert _value(metrics, "confpy_last_applied_revision") is None


def test_a_resource_name_is_quoted_as_prometheus_reads_it() -> None:
    metrics = Metrics()
    odd = 'we"ird\\name\n.toml'
    metrics.record_run(RunRecord(odd, 1, Outcome.UPDATED, None, 0.01))
    assert _value(metrics, "confpy_writes_total", resource=odd) == 1
    assert _value(metrics, "confpy_run_duration_seconds_bucket", resource=odd, le="0.01") == 1


def test_two_instances_do_not_share_metrics() -> None:
    first, second = Metrics(), Metrics()
    first.record_run(RunRecord("a.toml", 1, Outcome.UPDATED, None, 0.01))
    assert _value(first, "confpy_writes_total", resource="a.toml") == 1
    assert _value(second, "confpy_writes_total", resource="a.toml") is None


# --- the HTTP server ---------------------------------------------------------------------------


def _get(port: int, path: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode("utf-8")


@pytest.fixture
def served() -> Iterator[tuple[HealthServer, Metrics, dict[str, bool]]]:
    metrics = Metrics()
    state = {"ready": False}
    server = HealthServer("127.0.0.1:0", metrics, lambda: state["ready"])
    server.start()
    yield server, metrics, state
    server.stop()


def test_endpoints(served: tuple[HealthServer, Metrics, dict[str, bool]]) -> None:
    server, metrics, state = served
    assert server.port > 0
    metrics.record_run(RunRecord("web.toml", 3, Outcome.UPDATED, None, 0.05))
    status, content_type, body = _get(server.port, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain; version=")
    assert 'confpy_writes_total{resource="web.toml"} 1.0' in body
    assert _get(server.port, "/health")[0] == 200
    assert _get(server.port, "/ready")[:1] == (503,)
    state["ready"] = True
    assert _get(server.port, "/ready")[0] == 200
    assert _get(server.port, "/nope")[0] == 404


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405),
        (b"HEAD /health HTTP/1.1\r\n\r\n", 405),
        (b"GET\r\n\r\n", 400),
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", 405),
        (b"GET /health?probe=1 HTTP/1.0\r\n\r\n", 200),
    ],
)
def test_what_is_not_a_get_gets_a_status_line_and_the_connection_closed(
    served: tuple[HealthServer, Metrics, dict[str, bool]], request_bytes: bytes, status: int
) -> None:
    server, _, _ = served
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(request_bytes)
        answer = b""
        while chunk := client.recv(4096):  # until the server closes: no keep-alive
            answer += chunk
    assert answer.startswith(f"HTTP/1.1 {status} ".encode())
    head, _, body = answer.partition(b"\r\n\r\n")
    assert f"content-length: {len(body)}".encode() in head.lower()


def test_a_client_that_never_finishes_its_request_holds_up_no_other(
    served: tuple[HealthServer, Metrics, dict[str, bool]],
) -> None:
    server, _, _ = served
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as silent:
        silent.sendall(b"GET /metrics HTTP/1.1\r\n")  # and nothing more
        assert _get(server.port, "/health")[0] == 200


def test_a_raising_readiness_check_is_not_ready() -> None:
    def ready() -> bool:
        raise RuntimeError("boom")

    server = HealthServer("127.0.0.1:0", Metrics(), ready)
    server.start()
    try:
        assert _get(server.port, "/ready")[0] == 503
        assert _get(server.port, "/health")[0] == 200
    finally:
        server.stop()


def test_stop_closes_the_port() -> None:
    server = HealthServer("127.0.0.1:0", Metrics(), lambda: True)
    server.start()
    port = server.port
    assert _get(port, "/health")[0] == 200
    server.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    server.stop()  # twice is harmless


def test_an_idle_server_sleeps_until_a_client_connects() -> None:
    """socketserver's serve_forever woke every 0.5 s to look for a shutdown request: two wake-ups a
    second of an idle confpy run with -metrics-addr (issue 16). Counted, not timed: 2 s leave a
    sleeping thread's count where it was, and would add 4 to a 0.5 s poll's."""
    server = HealthServer("127.0.0.1:0", Metrics(), lambda: True)
    others = set(threading.enumerate())
    server.start()
    (thread,) = set(threading.enumerate()) - others
    try:
        assert _get(server.port, "/health")[0] == 200
        before = voluntary_switches(thread)
        time.sleep(2.0)
        assert voluntary_switches(thread) - before <= 1
        assert _get(server.port, "/health")[0] == 200  # and it still answers
    finally:
        server.stop()
    assert not thread.is_alive()


@pytest.mark.parametrize(
    "addr", ["127.0.0.1", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:70000", "::1:9090", "localhost:-1", ""]
)
def test_bad_addresses(addr: str) -> None:
    with pytest.raises(ConfigError, match="bad listen address"):
        HealthServer(addr, Metrics(), lambda: True)


def test_a_port_in_use_is_a_config_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HealthServer(f"127.0.0.1:{port}", Metrics(), lambda: True)
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            server.start()


def test_ipv6_brackets_are_accepted() -> None:
    server = HealthServer("[::1]:0", Metrics(), lambda: True)
    assert server.host == "::1"
    try:
        server.start()
    except ConfigError:
        pytest.skip("no IPv6 loopback on this machine")
    try:
        with urllib.request.urlopen(f"http://[::1]:{server.port}/health", timeout=10) as response:
            assert response.status == 200
    finally:
        server.stop()


# --- wired to a real watch engine --------------------------------------------------------------


def test_a_watch_engine_feeds_the_metrics(tmp_path: Path) -> None:
    def resource(name: str, extra: str) -> str:
        return f'[template]\nsrc = "kv.j2"\ndest = "{tmp_path / name}"\nkeys = ["/app"]\n{extra}\n'

    confdir = make_confdir(
        tmp_path,
        {
            "good.toml": resource("good.conf", ""),
            "bad-check.toml": resource("check.conf", 'check_cmd = "exit 1"'),
            "bad-reload.toml": resource("reload.conf", 'reload_cmd = "exit 1"'),
        },
        {"kv.j2": "{% for kv in gets('/app/*') %}{{ kv.Key }}={{ kv.Value }}\n{% endfor %}"},
    )
    processors, errors = load_processors(Settings(confdir=confdir, watch=True))
    assert not errors
    backend = MemoryBackend({"/app/x": "1"})
    metrics = Metrics()
    runs: list[RunRecord] = []

    def on_run(record: RunRecord) -> None:
        metrics.record_run(record)
        runs.append(record)

    engine = WatchEngine(backend, processors, backoff_max=0.2, on_run=on_run)
    metrics.set_source(lambda: engine.revision, lambda: engine.stale_for, lambda: engine.reconnects)
    server = HealthServer("127.0.0.1:0", metrics, lambda: len(runs) >= 3)
    server.start()
    engine.start()
    try:
        wait_until(lambda: len(runs) >= 3, what="three runs")
        revision = backend.put("/app/y", "2")
        wait_until(lambda: len(runs) >= 6, what="six runs")
        status, _, body = _get(server.port, "/metrics")
        assert status == 200
        assert _get(server.port, "/ready")[0] == 200
    finally:
        engine.stop(timeout=5)
        server.stop()
    assert 'confpy_writes_total{resource="good.toml"} 2.0' in body
    assert 'confpy_check_failures_total{resource="bad-check.toml"} 2.0' in body
    assert 'confpy_reload_failures_total{resource="bad-reload.toml"} 2.0' in body
    assert 'confpy_writes_total{resource="bad-reload.toml"} 2.0' in body
    assert f"confpy_last_applied_revision {float(revision)}" in body
    assert "confpy_watch_stale_seconds 0.0" in body
