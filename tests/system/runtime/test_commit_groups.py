"""Commit groups (`commit_group`) against real etcd: a certificate and its key, under two prefixes,
change together or not at all, in onetime and in watch mode, through etcd restarts. Every wait
and loop is bounded.

The files say which serial they were rendered from; the reload_cmd copies both into one history
entry (what the service loads), and a reader polls them meanwhile (the cert first: the group
renames in its members' order, the key's resource first, so a new cert read before the key
proves the key is new too).
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

from tests.support.etcd_server import EtcdServer
from tests.support.helpers import ConfpyProcess, make_confdir, run_confpy, wait_until
from tests.system.runtime.test_watch_mode import client_for

CERT = "cert {{ getv('/serial') }}\n"
KEY = "key {{ getv('/serial') }}\n"


def tls_confdir(tmp: Path, prefix: str, *, check: str = "true", extra: str = "", group: str = "tls") -> Path:
    """`a-key.toml` reads `{prefix}/key/serial`, `b-cert.toml` `{prefix}/cert/serial`: two prefixes."""
    history = tmp / "history"
    history.mkdir(exist_ok=True)
    reload = f"cat {tmp}/tls.crt {tmp}/tls.key > {history}/$(date +%s%N)"
    common = f'commit_group = "{group}"\nreload_cmd = "{reload}"\n{extra}'
    key = (
        f'[template]\nsrc = "key.j2"\ndest = "{tmp}/tls.key"\nprefix = "{prefix}/key"\nkeys = ["/serial"]\n'
        f'check_cmd = "{check}"\n{common}'
    )
    cert = (
        f'[template]\nsrc = "cert.j2"\ndest = "{tmp}/tls.crt"\nprefix = "{prefix}/cert"\n'
        f'keys = ["/serial"]\n{common}'
    )
    return make_confdir(tmp, {"a-key.toml": key, "b-cert.toml": cert}, {"cert.j2": CERT, "key.j2": KEY})


def put_both(client: Any, prefix: str, serial: str) -> None:
    """The certificate and its key in one transaction: no etcd revision holds one without the other."""
    ops = client.transactions
    client.transaction(
        compare=[],
        success=[ops.put(f"{prefix}/cert/serial", serial), ops.put(f"{prefix}/key/serial", serial)],
        failure=[],
    )


def pair(tmp: Path) -> tuple[str, str]:
    read = lambda p: p.read_text() if p.exists() else ""  # noqa: E731
    return read(tmp / "tls.crt"), read(tmp / "tls.key")


def history(tmp: Path) -> list[tuple[int, int]]:
    """Each reload's (cert serial, key serial)."""
    entries = []
    for path in sorted((tmp / "history").iterdir(), key=lambda p: int(p.name)):
        lines = path.read_text().splitlines()
        cert, key = (int(line.split()[1]) for line in lines)
        entries.append((cert, key))
    return entries


def check_history(tmp: Path, final: int) -> None:
    """Every reload saw a matching pair; serials never went back; the last one is the final."""
    entries = history(tmp)
    assert entries, "no reload ran"
    for cert, key in entries:
        assert cert == key, f"a reload saw cert {cert} beside key {key}"
    serials = [cert for cert, _ in entries]
    assert serials == sorted(serials), f"a reload went back: {serials}"
    assert serials[-1] == final


class Reader(threading.Thread):
    """Reads the cert, then the key, as fast as it can (bounded in time): never a newer cert."""

    def __init__(self, tmp: Path) -> None:
        super().__init__(daemon=True)
        self.tmp = tmp
        self.stop = threading.Event()
        self.seen: list[tuple[int, int]] = []

    def run(self) -> None:
        deadline = time.monotonic() + 120
        while not self.stop.is_set() and time.monotonic() < deadline:
            cert, key = pair(self.tmp)
            if cert and key:
                self.seen.append((int(cert.split()[1]), int(key.split()[1])))


def test_a_failed_check_of_one_member_renames_no_member_in_onetime(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    put_both(etcd_client, etcd_prefix, "1")
    confdir = tls_confdir(tmp_path, etcd_prefix, check="! grep -q 666 {{.src}}")
    args = ["-onetime", "-confdir", str(confdir), "-node", etcd.url]
    assert run_confpy(*args).returncode == 0
    assert pair(tmp_path) == ("cert 1\n", "key 1\n")
    put_both(etcd_client, etcd_prefix, "666")
    result = run_confpy(*args)
    assert result.returncode != 0
    assert (
        "check_cmd for a-key.toml" in result.stderr
        and "commit group tls: no member was renamed" in result.stderr
    )
    assert pair(tmp_path) == ("cert 1\n", "key 1\n")  # the cert, whose check passed, is not renamed either
    assert len(history(tmp_path)) == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no stage file left


def test_members_that_disagree_on_their_reload_are_refused(tmp_path: Path, etcd: EtcdServer) -> None:
    confdir = tls_confdir(tmp_path, "/p")
    other = confdir / "conf.d" / "b-cert.toml"
    other.write_text(other.read_text().replace('reload_cmd = "', 'reload_cmd = "true; '))
    result = run_confpy("-onetime", "-confdir", str(confdir), "-node", etcd.url)
    assert result.returncode != 0
    assert "commit group 'tls' reads once and reloads once, but its reload_cmd" in result.stderr
    assert "(no member of the group is applied)" in result.stderr
    assert pair(tmp_path) == ("", "")


def test_under_watch_a_failing_check_holds_both_files_and_the_next_good_pair_lands(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    put_both(etcd_client, etcd_prefix, "1")
    confdir = tls_confdir(tmp_path, etcd_prefix, check="! grep -q 666 {{.src}}")
    args = ["-watch", "-confdir", str(confdir), "-node", etcd.url, "-log-level", "debug"]
    with ConfpyProcess(*args, log_path=tmp_path / "confpy.log") as proc:
        wait_until(lambda: pair(tmp_path) == ("cert 1\n", "key 1\n"))
        put_both(etcd_client, etcd_prefix, "666")
        proc.wait_log("commit group tls: no member was renamed")
        assert pair(tmp_path) == ("cert 1\n", "key 1\n")
        put_both(etcd_client, etcd_prefix, "2")
        wait_until(lambda: pair(tmp_path) == ("cert 2\n", "key 2\n"))
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0
    check_history(tmp_path, 2)


def test_across_two_prefixes_through_etcd_restarts_no_reader_sees_a_new_cert_beside_an_old_key(
    tmp_path: Path, fresh_etcd: EtcdServer, etcd_prefix: str
) -> None:
    client = client_for(fresh_etcd.endpoint)
    put_both(client, etcd_prefix, "0")
    confdir = tls_confdir(tmp_path, etcd_prefix)
    args = ["-watch", "-confdir", str(confdir), "-node", fresh_etcd.url, "-log-level", "debug"]
    reader = Reader(tmp_path)
    with ConfpyProcess(*args, log_path=tmp_path / "confpy.log") as proc:
        wait_until(lambda: pair(tmp_path) == ("cert 0\n", "key 0\n"))
        reader.start()
        serial, deadline = 0, time.monotonic() + 90
        for restart in range(3):
            for _ in range(25):  # a burst of pairs, each in one transaction
                if time.monotonic() > deadline:
                    break
                try:
                    put_both(client, etcd_prefix, str(serial + 1))
                except Exception:
                    time.sleep(0.1)
                    continue
                serial += 1
                time.sleep(0.01)
            if restart % 2:
                fresh_etcd.kill()
            else:
                fresh_etcd.stop()
            time.sleep(0.5)
            fresh_etcd.restart()
        final = f"cert {serial}\n", f"key {serial}\n"
        wait_until(lambda: pair(tmp_path) == final, timeout=40, what="the last pair on disk")
        reader.stop.set()
        reader.join(10)
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0
        assert "resuming from revision" in proc.log
    check_history(tmp_path, serial)
    assert reader.seen and all(cert <= key for cert, key in reader.seen), "a new cert beside an old key"


def test_a_kill_between_two_renames_is_completed_by_the_next_start_before_its_reload(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    """The mix a kill between the renames leaves (the key's resource renamed, the cert's not) is
    made here by hand: the next start renames the rest, then reloads once, with a matching pair."""
    put_both(etcd_client, etcd_prefix, "1")
    confdir = tls_confdir(tmp_path, etcd_prefix)
    args = ["-onetime", "-confdir", str(confdir), "-node", etcd.url]
    assert run_confpy(*args).returncode == 0
    put_both(etcd_client, etcd_prefix, "2")
    (tmp_path / "tls.key").write_text("key 2\n")
    assert run_confpy(*args).returncode == 0
    assert pair(tmp_path) == ("cert 2\n", "key 2\n")
    assert history(tmp_path) == [(1, 1), (2, 2)]


def test_sigkills_of_a_watching_confpy_leave_a_pair_the_next_start_completes(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    put_both(etcd_client, etcd_prefix, "0")
    confdir = tls_confdir(tmp_path, etcd_prefix)
    serial = 0
    for kill in range(6):
        args = ["-watch", "-confdir", str(confdir), "-node", etcd.url, "-log-level", "debug"]
        with ConfpyProcess(*args, log_path=tmp_path / f"confpy-{kill}.log") as proc:
            expected = (f"cert {serial}\n", f"key {serial}\n")
            wait_until(lambda expected=expected: pair(tmp_path) == expected)
            for _ in range(5 + kill):
                serial += 1
                put_both(etcd_client, etcd_prefix, str(serial))
            time.sleep(0.01 * kill)  # somewhere in the renders, checks, renames and reloads
            proc.signal(signal.SIGKILL)
            proc.wait()
    result = run_confpy("-onetime", "-confdir", str(confdir), "-node", etcd.url)
    assert result.returncode == 0, result.stderr
    assert pair(tmp_path) == (f"cert {serial}\n", f"key {serial}\n")
    for cert, key in history(tmp_path):
        assert cert == key, f"a reload saw cert {cert} beside key {key}"


def test_a_value_that_is_not_utf8_in_one_member_holds_the_whole_group_in_onetime(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    put_both(etcd_client, etcd_prefix, "1")
    confdir = tls_confdir(tmp_path, etcd_prefix)
    args = ["-onetime", "-confdir", str(confdir), "-node", etcd.url]
    assert run_confpy(*args).returncode == 0
    etcd_client.put(f"{etcd_prefix}/cert/serial", "2")
    etcd_client.put(f"{etcd_prefix}/key/serial", b"\xff")
    result = run_confpy(*args)
    assert result.returncode != 0 and "a-key.toml: value of key" in result.stderr
    assert pair(tmp_path) == ("cert 1\n", "key 1\n")  # the cert's member is held back with the key's
