"""Real redis and zookeeper servers for tests, from Debian's packages: 127.0.0.1, free ports, temp dirs.

Each logs to `<dir>/server.log`; a server that does not answer in time is killed and the tail of
its log is put into the exception, so a failed start explains itself.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from tests.support.etcd_server import free_port, terminate

__all__ = ["REDIS_BINARY", "ZOOKEEPER_JAR", "RedisServer", "ZookeeperServer"]

REDIS_BINARY = shutil.which("redis-server") or "/usr/bin/redis-server"
ZOOKEEPER_JAR = Path("/usr/share/java/zookeeper.jar")  # Debian's zookeeper package
START_TIMEOUT = 30.0


class _Server:
    """A child process on a free port, in its own temp dir; `stop()`, `start()` keep both."""

    label = "server"

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix=f"confpy-{self.label}-")
        self.dir = Path(self._tmp.name)
        self.port = free_port()
        self.log_path = self.dir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def node(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def answers(self) -> bool:
        raise NotImplementedError

    def _ask(self, request: bytes) -> bytes:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                sock.sendall(request)
                return sock.recv(64)
        except OSError:
            return b""

    def start(self, timeout: float = START_TIMEOUT) -> _Server:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.dir
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._fail(f"{self.label} exited with status {self.proc.returncode}")
            if self.answers():
                return self
            time.sleep(0.1)
        self.stop()
        self._fail(f"{self.label} did not answer on port {self.port} within {timeout:.0f} s")
        raise AssertionError("unreachable")

    def _fail(self, message: str) -> None:
        try:
            tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
        except OSError:
            tail = "(no log)"
        raise RuntimeError(f"{message}; command: {' '.join(self.command())}\n{tail}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout`. Safe to call twice."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            terminate(self.proc, timeout)
        self.proc = None

    def close(self) -> None:
        self.stop()
        self._tmp.cleanup()

    def __enter__(self) -> _Server:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class RedisServer(_Server):
    """`redis-server` without persistence; `extra` adds config directives (`--requirepass x`)."""

    label = "redis"

    def __init__(self, extra: Sequence[str] = ()) -> None:
        super().__init__()
        self.extra = list(extra)

    def command(self) -> list[str]:
        return [
            REDIS_BINARY,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(self.dir),
            *self.extra,
        ]  # fmt: skip

    def answers(self) -> bool:
        reply = self._ask(b"PING\r\n")
        return reply.startswith((b"+PONG", b"-NOAUTH"))


class ZookeeperServer(_Server):
    """A standalone zookeeper (Debian's jar, QuorumPeerMain), admin server off, data in the temp dir."""

    label = "zookeeper"

    def __init__(self) -> None:
        super().__init__()
        (self.dir / "data").mkdir()
        self.config = self.dir / "zoo.cfg"
        self.config.write_text(
            "tickTime=2000\n"
            f"dataDir={self.dir / 'data'}\n"
            f"clientPort={self.port}\n"
            "clientPortAddress=127.0.0.1\n"
            "admin.enableServer=false\n"
            "4lw.commands.whitelist=ruok\n"
        )

    def command(self) -> list[str]:
        return [
            "java",
            "-Xmx256m",
            "-cp", str(ZOOKEEPER_JAR),
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(self.config),
        ]  # fmt: skip

    def answers(self) -> bool:
        return self._ask(b"ruok") == b"imok"
