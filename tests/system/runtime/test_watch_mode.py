"""`confpy -watch` as a user runs it, against real etcd servers, under faults. Every wait is bounded."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.etcd_server import EtcdCluster, EtcdServer
from tests.support.helpers import ConfpyProcess, make_confdir, wait_until
from tests.support.history import check_history, history_extra, written_history
from tests.support.tcp_proxy import TcpProxy

# Every key under the prefix, one line each: a file's content identifies the state it was rendered from.
TEMPLATE = "{% for kv in gets('/*') %}{{ kv.Key }}={{ kv.Value }}\n{% endfor %}"


def render(state: dict[str, str]) -> str:
    return "".join(f"/{k.rsplit('/', 1)[1]}={v}\n" for k, v in sorted(state.items()))


def confdir_for(tmp: Path, prefix: str, extra: str = "", name: str = "kv") -> tuple[Path, Path]:
    dest = tmp / f"{name}.conf"
    toml = f'[template]\nsrc = "kv.j2"\ndest = "{dest}"\nprefix = "{prefix}"\nkeys = ["/"]\n{extra}'
    return make_confdir(tmp, {f"{name}.toml": toml}, {"kv.j2": TEMPLATE}), dest


def read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def watcher(tmp: Path, confdir: Path, *nodes: str, extra: tuple[str, ...] = ()) -> ConfpyProcess:
    args = ["-watch", "-confdir", str(confdir), "-log-level", "debug"]
    for node in nodes:
        args += ["-node", node]
    return ConfpyProcess(*args, *extra, log_path=tmp / "confpy.log")


def client_for(*endpoints: str) -> Any:
    import pyetcd

    eps = [
        pyetcd.Endpoint(host, int(port), secure=False, time_retry=0.5)
        for host, port in (e.rsplit(":", 1) for e in endpoints)
    ]
    return pyetcd.MultiEndpointEtcd3Client(endpoints=eps, timeout=5, failover=True)


def try_put(client: Any, key: str, value: str) -> bool:
    try:
        client.put(key, value)
    except Exception:
        return False
    return True


class Writer(threading.Thread):
    """Keeps putting new values (bounded count), tolerating errors while a server is down."""

    def __init__(self, client: Any, prefix: str, count: int, keys: int = 3, pause: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.client, self.prefix, self.count, self.keys, self.pause = client, prefix, count, keys, pause
        self.state: dict[str, str] = {}
        self.history: list[str] = []  # render of the state after each acknowledged put

    def run(self) -> None:
        deadline = time.monotonic() + 60
        i = 0
        while i < self.count and time.monotonic() < deadline:
            key, value = f"{self.prefix}/k{i % self.keys}", f"v{i}"
            try:
                self.client.put(key, value)
            except Exception:
                time.sleep(0.1)
                continue
            self.state[key] = value
            self.history.append(render(self.state))
            i += 1
            time.sleep(self.pause)


def leader_of(cluster: EtcdCluster) -> EtcdServer:
    """The member that is the Raft leader now, as `etcdctl endpoint status` reports it."""
    for member in cluster.members:
        if not member.running:
            continue
        out = subprocess.run(
            ["etcdctl", "--endpoints", member.url, "endpoint", "status", "-w", "json"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            env={**os.environ, "ETCDCTL_API": "3"},
        )
        if out.returncode == 0:
            status = json.loads(out.stdout)[0]["Status"]
            if status["leader"] == status["header"]["member_id"]:
                return member
    raise AssertionError("no leader among the running members")


def test_watch_follows_changes_and_stops_gracefully(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/a", "1")
    confdir, dest = confdir_for(tmp_path, etcd_prefix)
    with watcher(tmp_path, confdir, etcd.url) as proc:
        wait_until(lambda: read(dest) == "/a=1\n")
        etcd_client.put(f"{etcd_prefix}/b", "2")
        wait_until(lambda: read(dest) == "/a=1\n/b=2\n")
        etcd_client.delete(f"{etcd_prefix}/a")
        wait_until(lambda: read(dest) == "/b=2\n")
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_noop_watch_prints_each_change_as_a_diff_and_writes_nothing(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    """The service prints what its workers hand back: the diff goes to stdout (here: the log file,
    which takes both), dest stays as it was."""
    etcd_client.put(f"{etcd_prefix}/a", "1")
    confdir, dest = confdir_for(tmp_path, etcd_prefix)
    dest.write_text("old\n")
    with watcher(tmp_path, confdir, etcd.url, extra=("-noop",)) as proc:
        proc.wait_log("+/a=1\n")
        etcd_client.put(f"{etcd_prefix}/b", "2")
        proc.wait_log("+/b=2\n")
        assert "will not be modified" in proc.log
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0
    assert dest.read_text() == "old\n"


def test_a_value_that_is_not_utf8_at_start_names_the_resource(
    tmp_path: Path, etcd: EtcdServer, etcd_client: Any, etcd_prefix: str
) -> None:
    # The error named only the key, as the whole start failed.
    etcd_client.put(f"{etcd_prefix}/blob", b"\xff\xfe")
    confdir, _ = confdir_for(tmp_path, etcd_prefix)
    with watcher(tmp_path, confdir, etcd.url) as proc:
        proc.wait_log(f"ERROR kv.toml: value of key {etcd_prefix}/blob is not valid UTF-8")
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0


def test_survives_etcd_sigkill_while_a_writer_keeps_putting(
    tmp_path: Path, fresh_etcd: EtcdServer, etcd_prefix: str
) -> None:
    client = client_for(fresh_etcd.endpoint)
    client.put(f"{etcd_prefix}/k0", "start")
    confdir, dest = confdir_for(tmp_path, etcd_prefix, history_extra(tmp_path))
    with watcher(tmp_path, confdir, fresh_etcd.url) as proc:
        wait_until(lambda: read(dest) == "/k0=start\n")
        writer = Writer(client, etcd_prefix, count=150)
        writer.start()
        wait_until(lambda: len(writer.history) > 30)
        fresh_etcd.kill()
        time.sleep(1)
        fresh_etcd.restart()
        writer.join(70)
        final = render(writer.state)
        wait_until(lambda: read(dest) == final, timeout=30, what="final state on disk")
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0
        assert "resuming from revision" in proc.log
    check_history(written_history(tmp_path), ["/k0=start\n", *writer.history], final)


def test_compaction_while_disconnected(tmp_path: Path, fresh_etcd: EtcdServer, etcd_prefix: str) -> None:
    client = client_for(fresh_etcd.endpoint)
    client.put(f"{etcd_prefix}/k0", "a")
    proxy = TcpProxy("127.0.0.1", int(fresh_etcd.endpoint.rsplit(":", 1)[1]))
    confdir, dest = confdir_for(tmp_path, etcd_prefix, history_extra(tmp_path))
    try:
        with watcher(tmp_path, confdir, proxy.url) as proc:
            wait_until(lambda: read(dest) == "/k0=a\n")
            proxy.cut()
            states = ["/k0=a\n"]
            state = {f"{etcd_prefix}/k0": "a"}
            for i in range(1, 6):
                client.put(f"{etcd_prefix}/k{i % 3}", f"v{i}")
                state[f"{etcd_prefix}/k{i % 3}"] = f"v{i}"
                states.append(render(state))
            client.delete(f"{etcd_prefix}/k0")
            del state[f"{etcd_prefix}/k0"]
            states.append(render(state))
            revision = client.get(f"{etcd_prefix}/k1")[1].mod_revision
            client.compact(revision, physical=True)
            proxy.restore()
            wait_until(lambda: read(dest) == render(state), timeout=30, what="resync after compaction")
            assert "compacted" in proc.log
            client.put(f"{etcd_prefix}/k9", "after")
            state[f"{etcd_prefix}/k9"] = "after"
            states.append(render(state))
            wait_until(lambda: read(dest) == render(state))
            proc.signal(signal.SIGTERM)  # graceful: the reload_cmd of the last write still runs
            assert proc.wait() == 0
        check_history(written_history(tmp_path), states, render(state))
    finally:
        proxy.close()


def test_three_members_kill_the_used_one_then_the_leader(tmp_path: Path, etcd_prefix: str) -> None:
    with EtcdCluster(3) as cluster:
        cluster.start()
        client = client_for(*cluster.endpoints)
        client.put(f"{etcd_prefix}/k0", "0")
        confdir, dest = confdir_for(tmp_path, etcd_prefix, history_extra(tmp_path))
        with watcher(tmp_path, confdir, *cluster.urls) as proc:
            wait_until(lambda: read(dest) == "/k0=0\n")
            writer = Writer(client, etcd_prefix, count=120, pause=0.02)
            writer.start()
            wait_until(lambda: len(writer.history) > 20)
            cluster.members[0].kill()  # confpy's first endpoint: the one it uses
            wait_until(lambda: len(writer.history) > 60, timeout=30)
            leader_of(cluster).kill()
            # Two of three members gone: no quorum, so bring one back and let the writer finish.
            time.sleep(0.5)
            cluster.members[0].restart()
            writer.join(70)
            final = render(writer.state)
            wait_until(lambda: read(dest) == final, timeout=40, what="final state through the cluster")
            proc.signal(signal.SIGTERM)
            assert proc.wait() == 0
        check_history(written_history(tmp_path), ["/k0=0\n", *writer.history], final)


@pytest.mark.timeout(120)
def test_frozen_member_fails_over_within_keepalive(tmp_path: Path, etcd_prefix: str) -> None:
    with EtcdCluster(3) as cluster:
        cluster.start()
        client = client_for(*cluster.endpoints[1:])
        client.put(f"{etcd_prefix}/k", "before")
        confdir, dest = confdir_for(tmp_path, etcd_prefix)
        with watcher(tmp_path, confdir, *cluster.urls) as proc:
            wait_until(lambda: read(dest) == "/k=before\n")
            cluster.members[0].pause()  # SIGSTOP: the connection stays open but nothing answers
            try:
                frozen_at = time.monotonic()
                # The test's own put may time out while the cluster elects a new leader: retry it.
                wait_until(lambda: try_put(client, f"{etcd_prefix}/k", "after"), timeout=30, what="a put")
                wait_until(
                    lambda: read(dest) == "/k=after\n", timeout=30, what="failover from a frozen member"
                )
                assert time.monotonic() - frozen_at < 30
            finally:
                cluster.members[0].resume()
            proc.signal(signal.SIGTERM)
            assert proc.wait() == 0


def test_sighup_and_hot_reload_pick_up_new_resources(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/a", "1")
    confdir, dest = confdir_for(tmp_path, etcd_prefix)
    with watcher(tmp_path, confdir, etcd.url) as proc:
        wait_until(lambda: read(dest) == "/a=1\n")
        # Hot reload: a new conf.d file is picked up without a signal.
        second = tmp_path / "second.conf"
        (confdir / "conf.d" / "second.toml").write_text(
            f'[template]\nsrc = "kv.j2"\ndest = "{second}"\nprefix = "{etcd_prefix}"\nkeys = ["/"]\n'
        )
        wait_until(lambda: read(second) == "/a=1\n", what="hot reload of a new resource")
        # SIGHUP: a changed template is re-read.
        (confdir / "templates" / "kv.j2").write_text("v2 " + TEMPLATE)
        proc.signal(signal.SIGHUP)
        wait_until(lambda: read(dest).startswith("v2 "), what="SIGHUP reload")
        etcd_client.put(f"{etcd_prefix}/b", "2")
        wait_until(lambda: read(second) == "v2 /a=1\n/b=2\n")
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0


def test_a_confdir_change_made_before_its_watcher_starts_is_picked_up(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    """The confdir watcher starts after the first render: a change made before, here by the first
    run's reload_cmd (which ends before that render counts as done), is picked up all the same."""
    etcd_client.put(f"{etcd_prefix}/a", "1")
    marker, edited = tmp_path / "edited", tmp_path / "v2.j2"
    edit = tmp_path / "edit.sh"
    confdir, dest = confdir_for(tmp_path, etcd_prefix, f'reload_cmd = "sh {edit}"\n')
    template = confdir / "templates" / "kv.j2"
    edited.write_text("v2 " + TEMPLATE)
    edit.write_text(f"[ -e {marker} ] && exit 0\ncp {edited} {template} && touch {marker}\n")
    with watcher(tmp_path, confdir, etcd.url) as proc:
        wait_until(lambda: read(dest) == "v2 /a=1\n", what="the template edited during the first render")
        assert marker.exists()
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0


def test_graceful_stop_finishes_the_write_in_flight(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/a", "1")
    marker = tmp_path / "checked"
    confdir, dest = confdir_for(tmp_path, etcd_prefix, f'check_cmd = "sleep 1 && touch {marker}"\n')
    with watcher(tmp_path, confdir, etcd.url) as proc:
        wait_until(lambda: read(dest) == "/a=1\n")
        marker.unlink()
        etcd_client.put(f"{etcd_prefix}/a", "2")
        wait_until(lambda: any(p.name.startswith(".kv.conf.") for p in tmp_path.iterdir()), what="stage file")
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0
    assert marker.exists() and read(dest) == "/a=2\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".kv")] == []


def test_max_stale_exits_non_zero(tmp_path: Path, fresh_etcd: EtcdServer, etcd_prefix: str) -> None:
    confdir, dest = confdir_for(tmp_path, etcd_prefix)
    with watcher(tmp_path, confdir, fresh_etcd.url, extra=("-max-stale", "3s")) as proc:
        wait_until(lambda: dest.exists())
        fresh_etcd.kill()
        assert proc.wait(40) == 3
        assert "max-stale" in proc.log


def test_interval_mode_rereads(tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any) -> None:
    etcd_client.put(f"{etcd_prefix}/a", "1")
    confdir, dest = confdir_for(tmp_path, etcd_prefix)
    args = ("-interval", "1", "-confdir", str(confdir), "-node", etcd.url)
    with ConfpyProcess(*args, log_path=tmp_path / "confpy.log") as proc:
        wait_until(lambda: read(dest) == "/a=1\n")
        etcd_client.put(f"{etcd_prefix}/a", "2")
        wait_until(lambda: read(dest) == "/a=2\n", timeout=10)
        proc.signal(signal.SIGINT)
        assert proc.wait() == 0


def test_global_wait_debounces_a_burst(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    history = history_extra(tmp_path)
    confdir, dest = confdir_for(tmp_path, etcd_prefix, history)
    with watcher(tmp_path, confdir, etcd.url, extra=("-wait", "300ms:2s")) as proc:
        wait_until(lambda: dest.exists())
        started = time.monotonic()
        for i in range(100):
            etcd_client.put(f"{etcd_prefix}/k", str(i))
        burst = time.monotonic() - started
        wait_until(lambda: read(dest) == "/k=99\n")
        time.sleep(0.5)
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0
    # the first write is the start-up render; the burst may add ceil(burst / min) + 1 more
    assert len(written_history(tmp_path)) - 1 <= int(burst / 0.3) + 2


LOST = re.compile(r"watch on \S+ lost \(.*\); resuming from revision \d+ in ([\d.]+) s \(attempt (\d+)\)")


def test_every_outage_resumes_as_fast_as_the_first(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    """Ten partitions in one process's life: each one's first retry waits the first backoff step
    (0.1 s + up to 0.5 s of jitter), because a resumed watch that delivered an event proved healthy.
    Asserted on the delays confpy logs, not on wall-clock time."""
    etcd_client.put(f"{etcd_prefix}/k", "0")
    proxy = TcpProxy("127.0.0.1", etcd.client_port)
    confdir, dest = confdir_for(tmp_path, etcd_prefix)
    try:
        with watcher(tmp_path, confdir, proxy.url) as proc:
            wait_until(lambda: read(dest) == "/k=0\n")
            etcd_client.put(f"{etcd_prefix}/k", "watched")
            wait_until(lambda: read(dest) == "/k=watched\n", what="the watch in place")
            for outage in range(1, 11):
                seen = len(proc.log)
                proxy.cut()
                wait_until(lambda seen=seen: LOST.search(proc.log, seen) is not None, what="outage noticed")
                proxy.restore()
                wait_until(lambda n=outage: proc.log.count("resumed from revision") == n, timeout=30)
                first = LOST.search(proc.log, seen)
                assert first is not None
                delay, attempt = float(first.group(1)), int(first.group(2))
                assert (attempt, delay <= 0.6) == (1, True), f"outage {outage}: {first.group(0)}"
                etcd_client.put(f"{etcd_prefix}/k", str(outage))
                wait_until(lambda n=outage: read(dest) == f"/k={n}\n", what=f"the put after outage {outage}")
            proc.signal(signal.SIGTERM)
            assert proc.wait() == 0
    finally:
        proxy.close()


def test_sighup_with_a_broken_resource_file_keeps_its_running_version(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/a", "1")
    confdir, dest = confdir_for(tmp_path, etcd_prefix)
    toml = confdir / "conf.d" / "kv.toml"
    good = toml.read_text()
    with watcher(tmp_path, confdir, etcd.url) as proc:
        wait_until(lambda: read(dest) == "/a=1\n")
        toml.write_text(good.replace("[template]", "[template"))  # a TOML syntax error
        (confdir / "conf.d" / "new.toml").write_text("[template]\n")  # broken, and never good
        proc.signal(signal.SIGHUP)
        proc.wait_log("the previous version of kv.toml keeps running until it is fixed")
        assert f"ERROR {toml}: invalid TOML" in proc.log
        assert "new.toml: " in proc.log and "previous version of new.toml" not in proc.log
        etcd_client.put(f"{etcd_prefix}/a", "2")
        wait_until(lambda: read(dest) == "/a=2\n", what="the kept version rendering a change")
        # Fixed: the new version replaces the kept one.
        toml.write_text(good.replace('keys = ["/"]', 'keys = ["/b"]'))
        proc.signal(signal.SIGHUP)
        etcd_client.put(f"{etcd_prefix}/b", "3")
        wait_until(lambda: read(dest) == "/b=3\n", what="the fixed version")
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0
