"""A private etcd for one benchmark scenario (127.0.0.1, free ports, temp data dir) and a lean client.

Self-contained on purpose: benchmarks must not depend on the test suite's fixtures. The client talks
to etcd's gRPC API through pyetcd's generated stubs only, so the benchmark's own overhead per put
is one unary call, not a client library's retry and failover machinery.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["ETCD_BINARY", "EtcdClient", "LocalEtcd", "etcd_version", "free_port"]

ETCD_BINARY = shutil.which("etcd") or "/usr/bin/etcd"
MAX_TXN_OPS = 128  # etcd's default --max-txn-ops


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def etcd_version() -> str:
    out = subprocess.run([ETCD_BINARY, "--version"], capture_output=True, text=True, check=False).stdout
    for line in out.splitlines():
        if line.startswith("etcd Version:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


class LocalEtcd:
    """One etcd member in a temp dir; `stop()` kills it and removes its data."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="confpy-bench-etcd-")
        self.data_dir = Path(self._tmp.name) / "data"
        self.port = free_port()
        self.peer_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> LocalEtcd:
        peer = f"http://127.0.0.1:{self.peer_port}"
        command = [
            ETCD_BINARY,
            "--name", "bench",
            "--data-dir", str(self.data_dir),
            "--listen-client-urls", self.url,
            "--advertise-client-urls", self.url,
            "--listen-peer-urls", peer,
            "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"bench={peer}",
        ]  # fmt: skip
        log = open(Path(self._tmp.name) / "etcd.log", "wb")  # noqa: SIM115 - the child keeps it open
        self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"etcd exited with status {self.proc.returncode}: {self._log_tail()}")
            if self._healthy():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"etcd was not healthy after {timeout:.0f} s")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1.0) as resp:
                return bool(json.load(resp).get("health") == "true")
        except (OSError, ValueError):
            return False

    def _log_tail(self) -> str:
        path = Path(self._tmp.name) / "etcd.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-10:]) if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self._tmp.cleanup()

    def client(self) -> EtcdClient:
        return EtcdClient(f"127.0.0.1:{self.port}")

    def __enter__(self) -> LocalEtcd:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()


class EtcdClient:
    """Puts, batched loads and deletes over one gRPC channel."""

    def __init__(self, target: str, timeout: float = 10.0) -> None:
        import grpc
        from pyetcd import etcdrpc

        self._rpc: Any = etcdrpc
        self._channel: Any = grpc.insecure_channel(target)
        self._kv: Any = etcdrpc.KVStub(self._channel)
        self.timeout = timeout

    def put(self, key: str, value: str) -> int:
        """Set one key; returns once etcd has committed it (the revision)."""
        request = self._rpc.PutRequest(key=key.encode(), value=value.encode())
        return int(self._kv.Put(request, self.timeout).header.revision)

    def load(self, items: Iterable[tuple[str, str]]) -> int:
        """Set many keys in transactions of at most 128 puts; the last revision."""
        rpc = self._rpc
        revision = 0
        batch: list[Any] = []
        for key, value in items:
            batch.append(rpc.RequestOp(request_put=rpc.PutRequest(key=key.encode(), value=value.encode())))
            if len(batch) == MAX_TXN_OPS:
                revision = self._txn(batch)
                batch = []
        if batch:
            revision = self._txn(batch)
        return revision

    def _txn(self, ops: list[Any]) -> int:
        return int(self._kv.Txn(self._rpc.TxnRequest(success=ops), self.timeout).header.revision)

    def close(self) -> None:
        self._channel.close()
