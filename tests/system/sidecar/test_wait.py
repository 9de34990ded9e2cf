"""`confpy wait` and KeyWaiter: real etcd for the command, the memory backend for the fine points."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from confpy.backends.base import Backend, Snapshot
from confpy.backends.etcd.backend import EtcdBackend
from confpy.backends.etcd.gateway_backend import GatewayBackend
from confpy.backends.memory import MemoryBackend
from confpy.sidecar.wait import KeyWaiter
from tests.support.etcd_server import EtcdServer
from tests.support.helpers import ConfpyProcess, run_confpy, wait_until


class CountingBackend(MemoryBackend):
    """The memory backend, counting reads: a waiter must read once and then only watch."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def read(self, prefixes: Sequence[str]) -> Snapshot:
        self.reads += 1
        return super().read(prefixes)


class Background(threading.Thread):
    """Runs `waiter.wait(timeout)` on a thread; `result` is what it returned."""

    def __init__(self, waiter: KeyWaiter, timeout: float | None = 20) -> None:
        super().__init__(daemon=True)
        self.waiter, self.timeout = waiter, timeout
        self.result: list[str] | None = None

    def run(self) -> None:
        self.result = self.waiter.wait(self.timeout)


def test_times_out_naming_only_the_missing_keys(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    present, missing = f"{etcd_prefix}/es/host", [f"{etcd_prefix}/db/host", f"{etcd_prefix}/mq/host"]
    etcd_client.put(present, "10.0.0.9")
    started = time.monotonic()
    result = run_confpy(
        "wait", "-node", etcd.url, present, *missing, "-timeout", "1s", "-confdir", str(tmp_path)
    )
    assert result.returncode == 1
    assert time.monotonic() - started < 15
    assert f"waiting for {missing[0]}" in result.stderr
    assert f"waiting for {present}" not in result.stderr
    assert f"timed out after 1 s waiting for {missing[0]}, {missing[1]}" in result.stderr


def test_returns_once_keys_appear_later(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any, transport: list[str]
) -> None:
    key, folder = f"{etcd_prefix}/es/host", f"{etcd_prefix}/db"
    args = ("wait", "-node", etcd.url, key, folder, "-timeout", "30", "-confdir", str(tmp_path), *transport)
    with ConfpyProcess(*args, log_path=tmp_path / "wait.log") as proc:
        proc.wait_log(f"waiting for {folder}")
        etcd_client.put(key, "10.0.0.9")
        proc.wait_log(f"{key} exists")
        assert proc.proc.poll() is None
        etcd_client.put(f"{folder}/10.0.0.7", "10.0.0.7:5432")  # a key under it: the folder exists
        assert proc.wait(15) == 0
        assert "all 2 keys exist" in proc.log


def test_nodes_from_confpy_variables(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/k", "v")
    env = {"CONFPY_NODES": etcd.url}
    result = run_confpy("wait", f"{etcd_prefix}/k", "-timeout", "10", "-confdir", str(tmp_path), env=env)
    assert result.returncode == 0, result.stderr


def test_sigterm_stops_the_wait(tmp_path: Path, etcd: EtcdServer, etcd_prefix: str) -> None:
    args = ("wait", "-node", etcd.url, f"{etcd_prefix}/never", "-confdir", str(tmp_path))
    with ConfpyProcess(*args, log_path=tmp_path / "wait.log") as proc:
        proc.wait_log("waiting for")
        proc.signal(signal.SIGTERM)
        assert proc.wait(10) == 128 + signal.SIGTERM


@pytest.mark.parametrize("backend_class", [EtcdBackend, GatewayBackend])  # GatewayBackend: read every second
def test_similar_names_do_not_count_and_deleted_keys_are_waited_for_again(
    etcd: EtcdServer,
    etcd_prefix: str,
    etcd_client: Any,
    backend_class: type[Backend],
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = f"{etcd_prefix}/a/host", f"{etcd_prefix}/b"
    caplog.set_level(logging.INFO, logger="confpy")
    with backend_class([etcd.url]) as backend:  # type: ignore[call-arg]
        waiter = KeyWaiter(backend, [a, b])
        thread = Background(waiter)
        thread.start()
        etcd_client.put(f"{a}name", "not it")
        etcd_client.put(f"{etcd_prefix}/bb", "not it either")
        etcd_client.put(a, "1")
        wait_until(lambda: waiter.missing == [b], what="a seen")
        etcd_client.delete(a)
        wait_until(lambda: waiter.missing == [a, b], what="a seen gone")
        etcd_client.put(b, "2")
        wait_until(lambda: waiter.missing == [a], what="b seen")
        assert thread.is_alive()
        etcd_client.put(a, "3")
        thread.join(10)
        assert thread.result == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert f"{b} exists" in caplog.messages and f"{a} was deleted; waiting for it again" in caplog.messages


def test_reads_once_then_only_watches() -> None:
    backend = CountingBackend()
    waiter = KeyWaiter(backend, ["/x", "/y"])
    thread = Background(waiter)
    thread.start()
    wait_until(lambda: backend.reads == 1)
    backend.put("/x", "1")
    time.sleep(0.3)
    backend.put("/y/z", "2")
    thread.join(10)
    assert thread.result == []
    assert backend.reads == 1


def test_a_lost_watch_is_replaced_by_a_fresh_read() -> None:
    backend = CountingBackend()
    waiter = KeyWaiter(backend, ["/x"])
    thread = Background(waiter)
    thread.start()
    wait_until(lambda: backend.reads == 1)
    backend.fail_watches()
    wait_until(lambda: backend.reads == 2, what="re-read after the watch broke")
    backend.put("/x", "1")
    thread.join(10)
    assert thread.result == []


@pytest.mark.parametrize("backend_class", [EtcdBackend, GatewayBackend])
def test_survives_an_etcd_restart(
    fresh_etcd: EtcdServer, etcd_prefix: str, backend_class: type[Backend], caplog: pytest.LogCaptureFixture
) -> None:
    key = f"{etcd_prefix}/k"
    caplog.set_level(logging.INFO, logger="confpy")
    with backend_class([fresh_etcd.url], connect_timeout=1.0) as backend:  # type: ignore[call-arg]
        waiter = KeyWaiter(backend, [key])
        thread = Background(waiter, timeout=60)
        thread.start()
        time.sleep(0.5)
        fresh_etcd.stop()
        time.sleep(1.5)
        fresh_etcd.start()
        client = fresh_etcd.client()
        try:
            client.put(key, "v")
        finally:
            client.close()
        thread.join(30)
        assert thread.result == []
    assert "cannot watch" not in caplog.text  # a backend that cannot is read again, not asked to


def test_timeout_and_cancel() -> None:
    backend = MemoryBackend({"/a": "1"})
    started = time.monotonic()
    assert KeyWaiter(backend, ["/a", "/b"]).wait(0.3) == ["/b"]
    assert 0.3 <= time.monotonic() - started < 5
    waiter = KeyWaiter(backend, ["/c"])
    thread = Background(waiter, timeout=None)
    thread.start()
    time.sleep(0.2)
    waiter.cancel()
    thread.join(5)
    assert thread.result == ["/c"] and waiter.cancelled


def test_backends_that_cannot_watch_are_read_again() -> None:
    class Static(CountingBackend):
        supports_watch = False

    backend = Static()
    thread = Background(KeyWaiter(backend, ["/x"]))
    thread.start()
    wait_until(lambda: backend.reads == 1)
    backend.put("/x", "1")
    thread.join(10)
    assert thread.result == []
    assert backend.reads >= 2
