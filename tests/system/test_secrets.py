"""Values from etcd are secrets and untrusted input: end to end, with a real etcd and the confpy command.

- No value in the log below `-log-level trace` (onetime and watch, at debug), nor in a `-noop`
  diff of a `sensitive = true` resource.
- A `mode = "0600"` file is never readable by others, not even for an instant while written.
- No value ever reaches a shell: check and reload commands see only `{{.src}}` and `{{.dest}}`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.etcd_server import EtcdServer
from tests.support.helpers import ConfpyProcess, make_confdir, run_confpy, wait_until

SECRET = "s3cr3t-Vq7Xw"  # distinctive: found in a log only if a value leaked there
TEMPLATE = 'user = {{ getv("/db/user") }}\npassword = {{ getv("/db/password") }}\n'


def resource(dest: Path, prefix: str, extra: str = "") -> str:
    return (
        f'[template]\nsrc = "db.j2"\ndest = "{dest}"\nprefix = "{prefix}"\nkeys = ["/db"]\n'
        f'mode = "0600"\n{extra}'
    )


def read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def shows(path: Path, text: str) -> Callable[[], bool]:
    return lambda: text in read(path)


@pytest.fixture
def secret_store(etcd_client: Any, etcd_prefix: str) -> str:
    etcd_client.put(f"{etcd_prefix}/db/user", "app")
    etcd_client.put(f"{etcd_prefix}/db/password", f"{SECRET}-1")
    return etcd_prefix


def test_onetime_at_debug_level_logs_no_value(tmp_path: Path, etcd: EtcdServer, secret_store: str) -> None:
    dest = tmp_path / "db.conf"
    commands = 'check_cmd = "test -s {{.src}}"\nreload_cmd = "test -s {{.dest}}"\n'
    confdir = make_confdir(tmp_path, {"db.toml": resource(dest, secret_store, commands)}, {"db.j2": TEMPLATE})
    args = ["-onetime", "-confdir", str(confdir), "-node", etcd.url, "-log-level", "debug"]
    first = run_confpy(*args, timeout=30)  # writes the file: check, rename, reload
    again = run_confpy(*args, timeout=30)  # finds it in sync
    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    assert dest.read_text() == f"user = app\npassword = {SECRET}-1\n"
    assert "has been updated" in first.stderr and "reload_cmd succeeded" in first.stderr
    assert "in sync" in again.stderr
    for result in (first, again):
        assert SECRET not in result.stderr + result.stdout


def test_watch_at_debug_level_logs_no_value(
    tmp_path: Path, etcd: EtcdServer, etcd_client: Any, secret_store: str
) -> None:
    dest = tmp_path / "db.conf"
    confdir = make_confdir(tmp_path, {"db.toml": resource(dest, secret_store)}, {"db.j2": TEMPLATE})
    args = ["-watch", "-confdir", str(confdir), "-node", etcd.url, "-log-level", "debug"]
    with ConfpyProcess(*args, log_path=tmp_path / "confpy.log") as proc:
        wait_until(lambda: f"{SECRET}-1" in read(dest), what="first render")
        etcd_client.put(f"{secret_store}/db/password", f"{SECRET}-2")
        wait_until(lambda: f"{SECRET}-2" in read(dest), what="the new password in the file")
        etcd_client.delete(f"{secret_store}/db/user")  # a failing render names the key, not values
        proc.wait_log("/db/user")
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0, proc.log
    assert "has been updated" in proc.log
    assert SECRET not in proc.log


@pytest.mark.parametrize("sensitive", [True, False])
def test_noop_diff_of_a_sensitive_resource_shows_no_value(
    tmp_path: Path, etcd: EtcdServer, secret_store: str, sensitive: bool
) -> None:
    dest = tmp_path / "db.conf"
    dest.write_text(f"user = app\npassword = {SECRET}-old\n")
    toml = resource(dest, secret_store, f"sensitive = {str(sensitive).lower()}\n")
    confdir = make_confdir(tmp_path, {"db.toml": toml}, {"db.j2": TEMPLATE})
    result = run_confpy(
        "-onetime", "-noop", "-confdir", str(confdir), "-node", etcd.url, "-log-level", "debug", timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == f"user = app\npassword = {SECRET}-old\n"  # noop: untouched
    assert SECRET not in result.stderr
    if sensitive:
        assert "1 line removed, 1 line added (values hidden)" in result.stdout
        assert SECRET not in result.stdout
    else:  # the control: without `sensitive`, the diff does show the values
        assert f"-password = {SECRET}-old\n+password = {SECRET}-1\n" in result.stdout


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    """The umask children started inside the block inherit (a permissive one proves nothing leans on it)."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


class ModeWatcher(threading.Thread):
    """Polls a directory and records every file seen with any permission for group or others."""

    def __init__(self, directory: Path) -> None:
        super().__init__(daemon=True)
        self.directory = directory
        self.too_open: list[tuple[str, str]] = []
        self.looks = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            with contextlib.suppress(FileNotFoundError), os.scandir(self.directory) as entries:
                for entry in entries:
                    with contextlib.suppress(FileNotFoundError):
                        mode = stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode)
                        if mode & 0o077:
                            self.too_open.append((entry.name, f"{mode:04o}"))
            self.looks += 1

    def stop(self) -> None:
        self._done.set()
        self.join(5)


def test_a_0600_file_is_never_readable_by_others_while_written(
    tmp_path: Path, etcd: EtcdServer, etcd_client: Any, secret_store: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    dest, modes = out / "db.conf", tmp_path / "stage-modes"
    check = f'check_cmd = "stat -c %a {{{{.src}}}} >> {modes}"\n'
    confdir = make_confdir(tmp_path, {"db.toml": resource(dest, secret_store, check)}, {"db.j2": TEMPLATE})
    watcher = ModeWatcher(out)
    watcher.start()
    args = ["-watch", "-confdir", str(confdir), "-node", etcd.url]
    try:
        with umask(0), ConfpyProcess(*args, log_path=tmp_path / "confpy.log") as proc:
            wait_until(lambda: f"{SECRET}-1" in read(dest), what="first render")
            for i in range(2, 12):
                etcd_client.put(f"{secret_store}/db/password", f"{SECRET}-{i}")
                wait_until(shows(dest, f"{SECRET}-{i}\n"), what=f"write {i}")
            proc.signal(signal.SIGTERM)
            assert proc.wait() == 0, proc.log
    finally:
        watcher.stop()
    assert modes.read_text().split() == ["600"] * 11  # what check_cmd saw: the stage file, final mode
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert watcher.looks > 11
    assert watcher.too_open == []


@pytest.mark.parametrize(
    "attack",
    [
        "$(touch {pwned})",
        "`touch {pwned}`",
        "'; touch {pwned}; '",
        '"; touch {pwned}; "',
        "\ntouch {pwned}\n",
    ],
)
def test_values_never_reach_check_or_reload_commands(
    tmp_path: Path, etcd: EtcdServer, etcd_client: Any, etcd_prefix: str, attack: str
) -> None:
    pwned = tmp_path / "pwned"
    value = attack.format(pwned=pwned)
    etcd_client.put(f"{etcd_prefix}/db/user", value)
    etcd_client.put(f"{etcd_prefix}/db/password", "x")
    dest = tmp_path / "db.conf"
    commands = 'check_cmd = "grep -q touch {{.src}}"\nreload_cmd = "cat {{.dest}} >/dev/null"\n'
    # A command that tries to take a value is refused before anything runs.
    sneaky = tmp_path / "sneaky.conf"
    sneaky_commands = 'check_cmd = "echo {{ getv(\\"/db/user\\") }}"\nreload_cmd = "echo {{.Value}}"\n'
    resources = {
        "db.toml": resource(dest, etcd_prefix, commands),
        "sneaky.toml": resource(sneaky, etcd_prefix, sneaky_commands),
    }
    confdir = make_confdir(tmp_path, resources, {"db.j2": TEMPLATE})
    result = run_confpy(
        "-onetime", "-confdir", str(confdir), "-node", etcd.url, "-log-level", "debug", timeout=30
    )
    assert result.returncode == 1
    assert dest.read_text() == f"user = {value}\npassword = x\n"
    assert "reload_cmd succeeded" in result.stderr
    assert "unsupported placeholder" in result.stderr and "only {{.src}} and {{.dest}} are allowed" in (
        result.stderr
    )
    assert not sneaky.exists()
    assert not pwned.exists()


@pytest.mark.parametrize(("level", "shown"), [("debug", False), ("trace", True)])
def test_errors_quote_values_only_at_trace_level(
    tmp_path: Path, etcd: EtcdServer, etcd_client: Any, etcd_prefix: str, level: str, shown: bool
) -> None:
    secret = "hunter2-not-an-ip"
    etcd_client.put(f"{etcd_prefix}/db/host", secret)
    dest = tmp_path / "out.conf"
    toml = f'[template]\nsrc = "t.j2"\ndest = "{dest}"\nprefix = "{etcd_prefix}"\nkeys = ["/db"]\n'
    toml += 'check_cmd = "cat {{.src}}; exit 1"\n'
    templates = {"t.j2": "{{ getv('/db/host') }}\n", "f.j2": "{{ getv('/db/host') | ip }}\n"}
    other = toml.replace("t.j2", "f.j2").replace("out.conf", "other.conf")  # one dest per resource
    confdir = make_confdir(tmp_path, {"t.toml": toml, "f.toml": other}, templates)
    result = run_confpy("-onetime", "-node", etcd.url, "-confdir", str(confdir), "-log-level", level)
    assert result.returncode == 1
    assert "check_cmd" in result.stderr and "is not an IP address" in result.stderr
    assert (secret in result.stderr) is shown
    assert ("<value of /db/host>" in result.stderr) is not shown
