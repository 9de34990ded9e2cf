"""Shared fixtures (real etcd servers, one per session or a fresh one per test, and clients), and
the two kinds of test: `unit` (tests/unit: pure code, in-process, fast) and `system` (tests/system:
real servers and subprocesses). `pytest -m unit` runs the fast half; `make test` runs both."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.etcd_server import EtcdServer


@pytest.fixture(scope="session")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    """One etcd for the whole run; tests keep apart by using `etcd_prefix`. Do not kill it."""
    server = EtcdServer(tmp_path_factory.mktemp("etcd"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_etcd(tmp_path: Path) -> Iterator[EtcdServer]:
    """An etcd of this test's own, to kill, pause, restart or compact."""
    server = EtcdServer(tmp_path / "etcd")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def etcd_prefix() -> str:
    """A key prefix no other test uses, without a trailing "/": keys are `f"{etcd_prefix}/name"`."""
    return f"/test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def etcd_client(etcd: EtcdServer) -> Iterator[Any]:
    """A pyetcd client on the session's `etcd`, for a test's own puts and deletes."""
    client = etcd.client()
    try:
        yield client
    finally:
        client.close()


_KINDS = ("unit", "system")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by the folder it is in; a test outside both folders is an error."""
    for item in items:
        kind = next((k for k in _KINDS if f"/tests/{k}/" in str(item.path)), None)
        if kind is None:
            raise pytest.UsageError(f"{item.nodeid}: every test lives under tests/unit or tests/system")
        item.add_marker(kind)
