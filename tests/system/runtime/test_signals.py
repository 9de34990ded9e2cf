"""Signals are acted on at once whichever thread the kernel hands them to (tgkill to one that is
not the main thread), by a real `confpy -watch` against the session's etcd."""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import threading
from pathlib import Path
from typing import Any

from confpy.runtime.signals import SignalRelay
from tests.support.etcd_server import EtcdServer
from tests.support.helpers import ConfpyProcess, make_confdir, wait_until

TEMPLATE = "{% for kv in gets('/*') %}{{ kv.Key }}={{ kv.Value }}\n{% endfor %}"


def tgkill(pid: int, tid: int, signum: int) -> None:
    """Send `signum` to thread `tid` of process `pid` only (glibc's tgkill(2) wrapper)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.tgkill(pid, tid, signum) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def other_thread(pid: int, signum: int) -> int:
    """A thread of `pid` that is not its main thread and does not block `signum`."""
    for task in sorted(Path(f"/proc/{pid}/task").iterdir()):
        tid = int(task.name)
        if tid == pid:
            continue
        status = dict(
            line.split(":\t", 1) for line in (task / "status").read_text().splitlines() if ":\t" in line
        )
        if not int(status["SigBlk"], 16) & (1 << (signum - 1)):
            return tid
    raise AssertionError(f"process {pid} has no thread besides the main one that takes signal {signum}")


def start(tmp_path: Path, etcd: EtcdServer, prefix: str, extra: str = "") -> tuple[ConfpyProcess, Path]:
    dest = tmp_path / "kv.conf"
    toml = f'[template]\nsrc = "kv.j2"\ndest = "{dest}"\nprefix = "{prefix}"\nkeys = ["/"]\n{extra}'
    confdir = make_confdir(tmp_path, {"kv.toml": toml}, {"kv.j2": TEMPLATE})
    # The default -interval (600 s): the main thread sleeps that long when nothing wakes it.
    args = ("-watch", "-confdir", str(confdir), "-node", etcd.url, "-log-level", "debug")
    return ConfpyProcess(*args, log_path=tmp_path / "confpy.log"), dest


def test_sigterm_to_another_thread_stops_at_once(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/a", "1")
    proc, dest = start(tmp_path, etcd, etcd_prefix)
    with proc:
        wait_until(lambda: dest.exists() and dest.read_text() == "/a=1\n")
        tid = other_thread(proc.proc.pid, signal.SIGTERM)
        assert proc.proc.poll() is None
        tgkill(proc.proc.pid, tid, signal.SIGTERM)
        # A bound far below the 600 s the main thread would otherwise sleep, not a benchmark.
        assert proc.wait(5) == 0
        assert "stopping: finishing the writes in flight" in proc.log


def test_a_second_sigterm_to_another_thread_exits_during_the_graceful_stop(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/a", "1")
    started = tmp_path / "check-started"
    proc, dest = start(tmp_path, etcd, etcd_prefix, f'check_cmd = "touch {started} && sleep 30"\n')
    with proc:
        proc.wait_log("watching 1 prefixes")
        wait_until(started.exists, what="the first check_cmd")
        proc.signal(signal.SIGTERM)  # graceful: waits for the 30 s check_cmd
        proc.wait_log("stopping: finishing the writes in flight")
        assert proc.proc.poll() is None
        tgkill(proc.proc.pid, other_thread(proc.proc.pid, signal.SIGTERM), signal.SIGTERM)
        assert proc.wait(10) == 128 + signal.SIGTERM
    assert not dest.exists()


def test_the_relay_handles_a_signal_sent_to_another_thread_and_restores_the_handler() -> None:
    got: queue.SimpleQueue[tuple[int, str]] = queue.SimpleQueue()
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        with SignalRelay([signal.SIGUSR1], lambda n: got.put((n, threading.current_thread().name))):
            assert other.ident is not None
            signal.pthread_kill(other.ident, signal.SIGUSR1)
            # The main thread sleeps in a lock wait that no signal interrupts; the relay acts anyway.
            assert got.get(timeout=5) == (signal.SIGUSR1, "confpy-signals")
    finally:
        release.set()
        other.join()
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
