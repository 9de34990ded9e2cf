"""A backend that answers wrongly at start against one that does not answer yet, in the modes that
keep running (-watch, interval): the first is a configuration error (exit 2 at once, one line, as
in -onetime), the second is waited for with backoff until it answers.

confd exits on any start-up failure in every mode (confd.go: `backends.New` fails, `log.Fatal`;
its etcdv3 client dials with a 5 s DialTimeout); confpy keeps confd's exit for what waiting cannot
fix and waits where it can (docs/differences.md).
"""

from __future__ import annotations

import http.server
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.etcd_server import EtcdServer
from tests.support.helpers import ConfpyProcess, make_confdir, run_confpy, wait_until
from tests.support.tcp_proxy import TcpProxy

FAILURE_BOUND = 30.0


@pytest.fixture
def http1_url() -> Iterator[str]:
    """A real HTTP/1 server on 127.0.0.1: a web server where etcd was expected."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def confdir_for(tmp: Path, prefix: str = "/app") -> tuple[Path, Path]:
    dest = tmp / "out.conf"
    toml = f'[template]\nsrc = "a.j2"\ndest = "{dest}"\nprefix = "{prefix}"\nkeys = ["/x"]\n'
    return make_confdir(tmp, {"a.toml": toml}, {"a.j2": "x = {{ getv('/x') }}\n"}), dest


@pytest.mark.parametrize("mode", [("-watch",), ("-interval", "1")], ids=["watch", "interval"])
def test_a_port_that_answers_http1_exits_2_at_once_in_every_mode(
    tmp_path: Path, http1_url: str, mode: tuple[str, ...]
) -> None:
    # It was logged and retried with backoff forever, and -onetime exited 1.
    confdir, dest = confdir_for(tmp_path)
    result = run_confpy(
        *mode, "-node", http1_url, "-confdir", str(confdir), "-connect-timeout", "5m", timeout=FAILURE_BOUND
    )
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert errors == [
        line for line in errors if f"ERROR {http1_url} is not an etcd HTTP (JSON gateway) endpoint" in line
    ]
    assert len(errors) == 1, result.stderr
    assert not dest.exists()


def test_onetime_against_http1_exits_2(tmp_path: Path, http1_url: str) -> None:
    confdir, _ = confdir_for(tmp_path)
    result = run_confpy("-onetime", "-node", http1_url, "-confdir", str(confdir), timeout=FAILURE_BOUND)
    assert result.returncode == 2, result.stderr


def test_a_refused_connection_at_start_is_waited_for_in_watch_mode(
    tmp_path: Path, etcd: EtcdServer, etcd_client: Any, etcd_prefix: str
) -> None:
    etcd_client.put(f"{etcd_prefix}/x", "1")
    confdir, dest = confdir_for(tmp_path, etcd_prefix)
    proxy = TcpProxy("127.0.0.1", etcd.client_port)
    proxy.cut()
    try:
        args = ("-watch", "-node", proxy.url, "-confdir", str(confdir), "-connect-timeout", "1s")
        with ConfpyProcess(*args, log_path=tmp_path / "log") as proc:
            wait_until(lambda: proc.log.count("cannot reach etcd at") >= 2, FAILURE_BOUND, "two retries")
            assert proc.proc.poll() is None, proc.log
            proxy.restore()
            wait_until(lambda: dest.exists(), FAILURE_BOUND, "the render once etcd answers")
            assert dest.read_text() == "x = 1\n"
            proc.signal(signal.SIGTERM)
            assert proc.wait() == 0, proc.log
    finally:
        proxy.close()
