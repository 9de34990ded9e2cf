"""sd_notify over real AF_UNIX datagram sockets (a path and the abstract namespace)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from confpy.ops.sdnotify import notify, watchdog_period


@pytest.fixture
def receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A datagram socket bound at a path in tmp_path, named by $NOTIFY_SOCKET."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def test_ready_and_status_in_one_datagram(receiver: socket.socket) -> None:
    assert notify("READY=1", "STATUS=watching 3 prefixes")
    assert receiver.recv(4096) == b"READY=1\nSTATUS=watching 3 prefixes"


def test_watchdog_ping(receiver: socket.socket) -> None:
    assert notify("WATCHDOG=1")
    assert receiver.recv(4096) == b"WATCHDOG=1"


def test_a_newline_cannot_add_an_assignment(receiver: socket.socket) -> None:
    assert notify("STATUS=error: bad value\nREADY=1")
    assert receiver.recv(4096) == b"STATUS=error: bad value READY=1"


def test_abstract_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"confpy-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify("READY=1")
        assert sock.recv(4096) == b"READY=1"


def test_no_socket_is_silent(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", "")
    assert notify("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    assert notify("READY=1") is False
    assert not caplog.records


def test_nobody_listening_is_false(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone.sock"))
    assert notify("READY=1") is False


def test_nothing_to_send(receiver: socket.socket) -> None:
    assert notify() is False
    receiver.settimeout(0.05)
    with pytest.raises(TimeoutError):
        receiver.recv(4096)


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        ("30000000", None, 15.0),
        ("30000000", "self", 15.0),
        ("1000", None, 0.0005),
        ("30000000", "1", None),
        ("30000000", "abc", None),
        ("0", None, None),
        ("", None, None),
        ("-5", None, None),
        ("thirty", None, None),
        (None, None, None),
    ],
)
def test_watchdog_period(
    usec: str | None, pid: str | None, expected: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", pid)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, str(os.getpid()) if value == "self" else value)
    assert watchdog_period() == expected
