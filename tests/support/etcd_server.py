"""Real etcd servers for tests: one member or a cluster, on 127.0.0.1, free ports, temp data dirs.

Every server logs to `<data dir>.log`; a server that does not become healthy in time is killed and
the tail of that log is put into the exception, so a failed start explains itself.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["ETCD_BINARY", "EtcdCluster", "EtcdServer", "free_port", "terminate"]

ETCD_BINARY = os.environ.get("CONFPY_TEST_ETCD", "/usr/bin/etcd")
START_TIMEOUT = 15.0


def terminate(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL if `proc` has not exited after `timeout` seconds; reaped either way."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, below the kernel's ephemeral range.

    A port from that range (what bind(0) hands out) may become the local port of any outgoing
    connection before its server binds it, or while a stopped member is down: seen as etcd's
    'bind: address already in use' on a member's restart in a full run.
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(200):
        port = random.randrange(10000, max(10001, low))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EtcdServer:
    """One etcd member. `restart()` keeps ports and data; `kill()` is SIGKILL, `pause()` SIGSTOP.

    For TLS pass the `--cert-file`/`--key-file` (and peer) flags in `extra_args`, set
    `scheme="https"` and give `health_ssl` (an SSLContext that trusts the server) for the health poll.
    """

    def __init__(
        self,
        workdir: str | Path | None = None,
        *,
        name: str = "s1",
        extra_args: Sequence[str] = (),
        scheme: str = "http",
        health_ssl: ssl.SSLContext | None = None,
        client_port: int | None = None,
        peer_port: int | None = None,
        initial_cluster: str | None = None,
    ) -> None:
        self._own_tmp = None if workdir is not None else tempfile.TemporaryDirectory(prefix="confpy-etcd-")
        base = Path(workdir if workdir is not None else self._own_tmp.name)  # type: ignore[union-attr]
        base.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.data_dir = base / f"{name}.etcd"
        self.log_path = base / f"{name}.log"
        self.client_port = client_port or free_port()
        self.peer_port = peer_port or free_port()
        self.scheme = scheme
        self.extra_args = list(extra_args)
        self.health_ssl = health_ssl
        self.initial_cluster = initial_cluster or f"{name}={self.peer_url}"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.client_port}"

    @property
    def endpoint(self) -> str:
        """host:port, as pyetcd and `etcdctl --endpoints` want it."""
        return f"127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    def command(self) -> list[str]:
        state = "existing" if self.data_dir.exists() else "new"
        return [
            ETCD_BINARY,
            "--name", self.name,
            "--data-dir", str(self.data_dir),
            "--listen-client-urls", self.url,
            "--advertise-client-urls", self.url,
            "--listen-peer-urls", self.peer_url,
            "--initial-advertise-peer-urls", self.peer_url,
            "--initial-cluster", self.initial_cluster,
            "--initial-cluster-state", state,
            "--initial-cluster-token", "confpy-test",
            *self.extra_args,
        ]  # fmt: skip

    def client(self) -> Any:
        """A pyetcd client for tests' own puts and deletes (failover on, as the notes advise)."""
        import pyetcd

        endpoint = pyetcd.Endpoint("127.0.0.1", self.client_port, secure=False, time_retry=1)
        return pyetcd.MultiEndpointEtcd3Client(endpoints=[endpoint], timeout=5, failover=True)

    def etcdctl(self, *args: str, flags: Sequence[str] = ()) -> str:
        """`etcdctl ARGS` on this member (API v3), its stdout; `flags` carries credentials
        (`--user root:pw`, `--cacert`/`--cert`/`--key`). A failure raises with etcdctl's message."""
        command = ["etcdctl", "--endpoints", self.url, "--dial-timeout", "5s", *flags, *args]
        env = {**os.environ, "ETCDCTL_API": "3"}
        result = subprocess.run(command, capture_output=True, text=True, timeout=30, env=env, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr}")
        return result.stdout

    def spawn(self) -> None:
        """Start the process without waiting (a cluster starts all members, then waits)."""
        if self.running:
            raise RuntimeError(f"etcd {self.name} is already running")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def start(self, timeout: float = START_TIMEOUT) -> EtcdServer:
        self.spawn()
        self.wait_healthy(timeout)
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1.0, context=self.health_ssl) as resp:
                return bool(json.load(resp).get("health") == "true")
        except (OSError, ValueError):
            return False

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                self._fail(f"etcd {self.name} exited with status {self.proc.returncode}")
            if self.healthy():
                return
            time.sleep(0.05)
        self.kill()
        self._fail(f"etcd {self.name} was not healthy after {timeout:.0f} s")

    def _fail(self, message: str) -> None:
        raise RuntimeError(f"{message}; command: {' '.join(self.command())}\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in `timeout` seconds. Safe to call twice."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.resume()
            terminate(self.proc, timeout)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: a crash, no clean shutdown."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self, timeout: float = START_TIMEOUT) -> EtcdServer:
        """Stop if running, start again with the same ports and data."""
        self.stop()
        return self.start(timeout)

    def pause(self) -> None:
        """SIGSTOP: the process stays, holds its sockets and answers nothing."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        """Stop and remove the temp dir (when this server made it)."""
        self.stop()
        if self._own_tmp is not None:
            self._own_tmp.cleanup()

    def __enter__(self) -> EtcdServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class EtcdCluster:
    """`n` members on loopback; `members[i]` has the same stop/kill/restart/pause methods."""

    def __init__(
        self, n: int = 3, workdir: str | Path | None = None, *, extra_args: Sequence[str] = ()
    ) -> None:
        self._own_tmp = None if workdir is not None else tempfile.TemporaryDirectory(prefix="confpy-etcd-")
        base = Path(workdir if workdir is not None else self._own_tmp.name)  # type: ignore[union-attr]
        names = [f"m{i}" for i in range(n)]
        peers = {name: free_port() for name in names}
        initial = ",".join(f"{name}=http://127.0.0.1:{port}" for name, port in peers.items())
        self.members = [
            EtcdServer(base, name=name, extra_args=extra_args, peer_port=peers[name], initial_cluster=initial)
            for name in names
        ]

    @property
    def urls(self) -> list[str]:
        return [m.url for m in self.members]

    @property
    def endpoints(self) -> list[str]:
        return [m.endpoint for m in self.members]

    def start(self, timeout: float = START_TIMEOUT) -> EtcdCluster:
        try:
            for member in self.members:
                member.spawn()
            deadline = time.monotonic() + timeout
            for member in self.members:
                member.wait_healthy(max(0.1, deadline - time.monotonic()))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for member in self.members:
            member.stop()

    def close(self) -> None:
        self.stop()
        if self._own_tmp is not None:
            self._own_tmp.cleanup()

    def __enter__(self) -> EtcdCluster:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
