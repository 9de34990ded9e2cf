"""The demo's traffic dashboard (containers/dashboard.py) with a real goaccess, on 127.0.0.1.

The demo test (test_stack.py) opens it in Chromium with the whole stack behind it; these check
its own start and stop.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO

sys.path.insert(0, str(REPO / "containers"))

from dashboard import Dashboard, missing_requirements
from loopback import http_get

MISSING = missing_requirements()
pytestmark = pytest.mark.skipif(bool(MISSING), reason="the dashboard needs: " + "; ".join(MISSING))

LINE = 'sinatra-1 127.0.0.1 [2026-12-01T22:10:00.123Z] "GET /" 200\n'


def test_it_serves_the_report_and_leaves_nothing_when_closed(tmp_path: Path) -> None:
    """The page answers while it runs; once closed, nothing listens and goaccess's pipes are gone."""
    board = Dashboard(tmp_path, tmp_path / "access.log")
    try:
        url = board.start()
        (tmp_path / "access.log").write_text(LINE)
        status, body = http_get(url)
        assert status == 200 and "GoAccess" in body, body[:200]
        assert list(tmp_path.glob("goaccess_fifo_*")), "its named pipes are not where the rest is"
    finally:
        board.close()
    assert http_get(url, timeout=1.0)[0] == 0, "the page still answers"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", board.ws_port), timeout=1.0).close()
    assert not list(tmp_path.glob("goaccess_fifo_*")), "goaccess left its named pipes"


def test_goaccess_failing_to_start_is_one_line_with_its_reason(tmp_path: Path) -> None:
    board = Dashboard(tmp_path, tmp_path / "access.log")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", board.ws_port))
        taken.listen()
        try:
            with pytest.raises(RuntimeError) as failure:
                board.start()
        finally:
            board.close()
    message = str(failure.value)
    assert "\n" not in message, message
    assert message.startswith("goaccess exited with status 1: Unable to set bind: Address already in use.")
    assert str(tmp_path / "goaccess.log") in message


def test_the_reason_is_read_past_goaccess_terminal_escapes(tmp_path: Path) -> None:
    # On the fresh Debian 12 machine goaccess ended its log with its progress display's ESC [2K,
    # and that was given as the reason.
    board = Dashboard(tmp_path, tmp_path / "access.log")
    log = tmp_path / "goaccess.log"
    log.write_text("Unable to set bind: Address already in use.\n\x1b[2K \n")
    board._proc = subprocess.Popen(["sh", "-c", "exit 1"])
    board._proc.wait()
    with pytest.raises(RuntimeError) as failure:
        board._ready(tmp_path / "report.html", log)
    assert str(failure.value).startswith("goaccess exited with status 1: Unable to set bind: Address")
