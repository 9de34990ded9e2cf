"""The long-running process's observability, as a supervisor sees it: sd_notify, /metrics, /ready."""

from __future__ import annotations

import signal
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.etcd_server import EtcdServer, free_port
from tests.support.helpers import ConfpyProcess, make_confdir, wait_until

TEMPLATE = "{% for kv in gets('/*') %}{{ kv.Key }}={{ kv.Value }}\n{% endfor %}"


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_notify_metrics_and_readiness(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/a", "1")
    dest = tmp_path / "kv.conf"
    toml = f'[template]\nsrc = "kv.j2"\ndest = "{dest}"\nprefix = "{etcd_prefix}"\nkeys = ["/"]\n'
    confdir = make_confdir(tmp_path, {"kv.toml": toml}, {"kv.j2": TEMPLATE})
    notify_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify_path))
    sock.settimeout(15)
    port = free_port()
    env = {"NOTIFY_SOCKET": str(notify_path), "WATCHDOG_USEC": "1000000"}
    args = ("-watch", "-confdir", str(confdir), "-node", etcd.url, "-metrics-addr", f"127.0.0.1:{port}")
    try:
        with ConfpyProcess(*args, log_path=tmp_path / "confpy.log", env=env) as proc:
            messages: list[str] = []
            while not any("READY=1" in m for m in messages):
                messages.append(sock.recv(4096).decode())
            assert dest.read_text() == "/a=1\n"  # READY=1 comes after the first render
            ready = next(m for m in messages if "READY=1" in m)
            assert "STATUS=watching 1 resources, revision" in ready
            watchdog = sock.recv(4096).decode()
            assert "WATCHDOG=1" in watchdog
            assert get(f"http://127.0.0.1:{port}/health")[0] == 200
            assert get(f"http://127.0.0.1:{port}/ready")[0] == 200
            etcd_client.put(f"{etcd_prefix}/b", "2")
            wait_until(lambda: dest.read_text() == "/a=1\n/b=2\n")
            # The run is counted just after its file is in place: wait for the count, not the file.
            written = 'confpy_writes_total{resource="kv.toml"} 2.0'
            wait_until(lambda: written in get(f"http://127.0.0.1:{port}/metrics")[1], what="the count")
            status, body = get(f"http://127.0.0.1:{port}/metrics")
            assert status == 200
            revision = int(etcd_client.get(f"{etcd_prefix}/b")[1].mod_revision)
            assert f"confpy_last_applied_revision {float(revision)}" in body
            proc.signal(signal.SIGTERM)
            assert proc.wait() == 0
            sock.settimeout(5)
            while "STOPPING=1" not in (message := sock.recv(4096).decode()):
                assert "READY=1" not in message
    finally:
        sock.close()


def test_bad_metrics_address_is_a_clear_error(tmp_path: Path, etcd: EtcdServer) -> None:
    confdir = make_confdir(tmp_path, {}, {})
    args = ("-watch", "-confdir", str(confdir), "-node", etcd.url, "-metrics-addr", "nonsense")
    with ConfpyProcess(*args, log_path=tmp_path / "confpy.log") as proc:
        assert proc.wait() != 0
        assert "nonsense" in proc.log
