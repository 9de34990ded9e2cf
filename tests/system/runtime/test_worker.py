"""A resource whose write, check or reload failed is retried with backoff until it succeeds, by a
real `confpy -watch` against the session's etcd: a full and a read-only tmpfs under the dest (in a
mount namespace of confpy's own, so nothing stays mounted whatever happens), and a reload_cmd
that fails until its service is back. Waits are bounded by the retry delays confpy logs."""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.etcd_server import EtcdServer, free_port
from tests.support.helpers import ConfpyProcess, make_confdir, wait_until

TEMPLATE = "{% for kv in gets('/*') %}{{ kv.Key }}={{ kv.Value }}\n{% endfor %}"
RETRY = re.compile(r"kv\.toml: retrying in ([\d.]+) s \(attempt (\d+)\)")
# Mount a small tmpfs on $1 inside the new mount namespace, then become confpy.
MOUNT = 'mount -t tmpfs -o size=64k confpy-test "$1" || exit 99; shift; exec "$@"'


def resource(dest: Path, prefix: str, extra: str = "") -> str:
    return f'[template]\nsrc = "kv.j2"\ndest = "{dest}"\nprefix = "{prefix}"\nkeys = ["/"]\n{extra}'


def retries(log: str) -> list[tuple[float, int]]:
    return [(float(m.group(1)), int(m.group(2))) for m in RETRY.finditer(log)]


def scrape(port: int, metric: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        body = resp.read().decode()
    match = re.search(rf'^{metric}{{resource="kv.toml"}} (\S+)$', body, re.M)
    assert match, f"{metric} missing from /metrics"
    return float(match.group(1))


def test_full_and_read_only_dest_converge_once_the_disk_is_back(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "--mount", "true"], capture_output=True).returncode:
        pytest.skip("mount namespaces (unshare --mount) are not permitted here")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    dest = mnt / "kv.conf"
    confdir = make_confdir(tmp_path, {"kv.toml": resource(dest, etcd_prefix)}, {"kv.j2": TEMPLATE})
    port = free_port()
    wrapper = [unshare, "--mount", "--propagation", "private", "sh", "-c", MOUNT, "sh", str(mnt)]
    args = ("-watch", "-confdir", str(confdir), "-node", etcd.url, "-metrics-addr", f"127.0.0.1:{port}")
    etcd_client.put(f"{etcd_prefix}/a", "1")
    with ConfpyProcess(*args, log_path=tmp_path / "confpy.log", wrapper=wrapper) as proc:
        # The test sees confpy's tmpfs through its root, and remounts it from inside its namespace.
        inside = Path(f"/proc/{proc.proc.pid}/root") / mnt.relative_to("/")

        def read() -> str:
            path = inside / "kv.conf"
            return path.read_text() if path.exists() else ""

        def remount(how: str) -> None:
            command = ["nsenter", "-t", str(proc.proc.pid), "-m", "mount", "-o", f"remount,{how}", str(mnt)]
            subprocess.run(command, check=True, capture_output=True, timeout=10)

        wait_until(lambda: read() == "/a=1\n" or proc.proc.poll() is not None, what="the first render")
        if proc.proc.poll() == 99:
            pytest.skip(f"mount -t tmpfs is not permitted here: {proc.log.strip()}")
        assert not dest.exists()  # the tmpfs is confpy's alone

        # ENOSPC: fill the tmpfs, then change the key.
        filler = inside / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:
            with pytest.raises(OSError) as full:
                while True:
                    os.write(fd, b"x" * 4096)
        finally:
            os.close(fd)
        assert full.value.errno == errno.ENOSPC
        seen = len(proc.log)
        etcd_client.put(f"{etcd_prefix}/a", "2")
        wait_until(lambda: len(retries(proc.log[seen:])) >= 2, timeout=30, what="two retries")
        assert "No space left on device" in proc.log[seen:]
        assert [n for _, n in retries(proc.log[seen:])][:2] == [1, 2]
        assert read() == "/a=1\n"  # the old file, whole
        assert sorted(p.name for p in inside.iterdir()) == ["filler", "kv.conf"]  # no stage file left
        assert scrape(port, "confpy_retries_total") >= 2
        assert scrape(port, "confpy_retry_attempt") >= 2
        filler.unlink()
        last_delay = retries(proc.log[seen:])[-1][0]
        wait_until(
            lambda: read() == "/a=2\n", timeout=last_delay * 2 + 10, what="the write once space is back"
        )
        proc.wait_log("kv.toml: succeeded after")
        assert scrape(port, "confpy_retry_attempt") == 0

        # A read-only remount, then read-write again.
        remount("ro")
        seen = len(proc.log)
        etcd_client.put(f"{etcd_prefix}/a", "3")
        wait_until(lambda: len(retries(proc.log[seen:])) >= 1, timeout=30, what="a retry")
        assert "Read-only file system" in proc.log[seen:]
        assert read() == "/a=2\n"
        remount("rw")
        last_delay = retries(proc.log[seen:])[-1][0]
        wait_until(lambda: read() == "/a=3\n", timeout=last_delay * 2 + 10, what="the write once writable")
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0


def test_a_failed_reload_is_retried_until_the_service_takes_it(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    up, reloaded = tmp_path / "service-up", tmp_path / "reloaded"
    dest = tmp_path / "kv.conf"
    reload_cmd = f'reload_cmd = "test -e {up} && cp {dest} {reloaded}"\n'
    confdir = make_confdir(
        tmp_path, {"kv.toml": resource(dest, etcd_prefix, reload_cmd)}, {"kv.j2": TEMPLATE}
    )
    etcd_client.put(f"{etcd_prefix}/a", "1")
    args = ("-watch", "-confdir", str(confdir), "-node", etcd.url)
    with ConfpyProcess(*args, log_path=tmp_path / "confpy.log") as proc:
        wait_until(lambda: dest.exists() and dest.read_text() == "/a=1\n")
        proc.wait_log("kv.toml: retrying in")
        assert "reload_cmd for kv.toml failed" in proc.log
        assert not reloaded.exists()
        up.touch()
        last_delay = retries(proc.log)[-1][0]
        # `cp` creates the file before it writes it: wait for its content, not for the name.
        wait_until(
            lambda: reloaded.exists() and reloaded.read_text() == "/a=1\n",
            timeout=last_delay * 2 + 10,
            what="the retried reload",
        )
        proc.wait_log("kv.toml: succeeded after")
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0
