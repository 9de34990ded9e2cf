"""The zookeeper backend against a real zookeeper (Debian's): confd's walk of znodes, and errors.

Every expectation follows confd's backends/zookeeper/client.go (GetValues, nodeWalk); with
CONFD_BIN set, the onetime render is also compared with confd's byte for byte.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from confpy.backends.zookeeper import ZookeeperBackend, _Subtree, parse_zookeeper_node
from confpy.errors import BackendError, ConfigError
from tests.support.helpers import ConfpyProcess, make_confdir, run_confpy, wait_until
from tests.support.history import check_history, check_key_history, history_extra, written_history
from tests.support.kv_servers import ZookeeperServer
from tests.support.tcp_proxy import TcpProxy

CONFD_BIN = os.environ.get("CONFD_BIN")


@pytest.fixture(scope="module")
def zk_server() -> Iterator[ZookeeperServer]:
    with ZookeeperServer() as server:
        server.start()
        yield server


@pytest.fixture
def zk(zk_server: ZookeeperServer) -> Iterator[Any]:
    from kazoo.client import KazooClient

    client = KazooClient(hosts=zk_server.node)
    client.start(timeout=15)
    yield client
    client.stop()
    client.close()


@pytest.fixture
def root() -> str:
    """A znode path no other test uses."""
    return f"/t{uuid.uuid4().hex[:10]}"


def read(server: ZookeeperServer, *keys: str) -> dict[str, str]:
    with ZookeeperBackend([server.node]) as backend:
        return backend.read(keys).values


def test_leaves_are_keys_and_inner_data_is_not(zk: Any, zk_server: ZookeeperServer, root: str) -> None:
    # nodeWalk: a znode with children contributes only its leaves, never its own data.
    zk.create(f"{root}/app", b"inner data", makepath=True)
    zk.create(f"{root}/app/db/host", b"10.0.0.1", makepath=True)
    zk.create(f"{root}/app/db/port", b"5432")
    zk.create(f"{root}/app/name", b"shop")
    zk.create(f"{root}/app/empty")  # no data: ""
    zk.create(f"{root}/appx", b"sibling")
    assert read(zk_server, f"{root}/app") == {
        f"{root}/app/db/host": "10.0.0.1",
        f"{root}/app/db/port": "5432",
        f"{root}/app/name": "shop",
        f"{root}/app/empty": "",
    }
    assert read(zk_server, f"{root}/app/*") == read(zk_server, f"{root}/app")


def test_a_leaf_key_is_its_own_value(zk: Any, zk_server: ZookeeperServer, root: str) -> None:
    zk.create(f"{root}/leaf", b"v", makepath=True)
    assert read(zk_server, f"{root}/leaf", f"{root}/leaf/") == {f"{root}/leaf": "v"}


def test_missing_key_reads_nothing(zk: Any, zk_server: ZookeeperServer, root: str) -> None:
    # confd fails the whole run with "zk: node does not exist" here; confpy reads no keys.
    zk.create(f"{root}/there", b"v", makepath=True)
    assert read(zk_server, f"{root}/missing", f"{root}/there") == {f"{root}/there": "v"}


def test_not_utf8_names_its_key(zk: Any, zk_server: ZookeeperServer, root: str) -> None:
    zk.create(f"{root}/bin", b"\xff", makepath=True)
    with pytest.raises(Exception, match=f"{root}/bin"):
        read(zk_server, root)


def test_unreachable_is_one_backend_error() -> None:
    with (
        pytest.raises(BackendError, match=r"cannot reach zookeeper at 127\.0\.0\.1:1 within 1 s"),
        ZookeeperBackend(["127.0.0.1:1"], connect_timeout=1) as backend,
    ):
        backend.read(["/k"])


@pytest.mark.parametrize("node", ["localhost", "zk://h:2181", "h:port", "h:0"])
def test_bad_nodes_are_refused(node: str) -> None:
    with pytest.raises(ConfigError, match="zookeeper backend"):
        parse_zookeeper_node(node)


RESOURCE = """[template]
src = "app.conf.tmpl"
dest = "{dest}"
prefix = "{root}"
keys = ["/app/db", "/app/name"]
"""
TEMPLATE = """name={{getv "/app/name"}}
{{range gets "/app/db/*"}}{{.Key}}={{.Value}}
{{end}}"""


def test_onetime_renders_from_zookeeper(
    zk: Any, zk_server: ZookeeperServer, root: str, tmp_path: Path
) -> None:
    zk.create(f"{root}/app/db/host", b"10.0.0.1", makepath=True)
    zk.create(f"{root}/app/db/port", b"5432")
    zk.create(f"{root}/app/dbx/host", b"not mine", makepath=True)
    zk.create(f"{root}/app/name", b"shop")
    dest = tmp_path / "app.conf"
    resource = RESOURCE.format(dest=dest, root=root)
    confdir = make_confdir(tmp_path, {"app.toml": resource}, {"app.conf.tmpl": TEMPLATE})
    args = ["-onetime", "-backend", "zookeeper", "-node", zk_server.node, "-confdir", str(confdir)]
    result = run_confpy(*args)
    assert result.returncode == 0, result.stderr
    expected = "name=shop\n/app/db/host=10.0.0.1\n/app/db/port=5432\n"
    assert dest.read_text() == expected
    if CONFD_BIN:
        dest.unlink()
        confd = subprocess.run([CONFD_BIN, *args], capture_output=True, text=True, timeout=60, check=False)
        assert confd.returncode == 0, confd.stderr
        assert dest.read_text() == expected


def test_onetime_bad_node_exits_2(tmp_path: Path) -> None:
    confdir = make_confdir(tmp_path, {}, {})
    result = run_confpy("-onetime", "-backend", "zookeeper", "-node", "zk://h", "-confdir", str(confdir))
    assert result.returncode == 2
    assert "expected host:port for the zookeeper backend" in result.stderr


# --- watch through zookeeper's watches ----------------------------------------------------------

KV_TEMPLATE = (
    '{{range gets "/kv/*"}}{{.Key}}={{.Value}}\n{{end}}{{range gets "/kv/*/*"}}{{.Key}}={{.Value}}\n{{end}}'
)
KV_RESOURCE = """[template]
src = "kv.tmpl"
dest = "{dest}"
prefix = "{root}"
keys = ["/kv"]
"""


def watch_args(node: str, confdir: Path) -> list[str]:
    """No -interval: the default 600 s re-read cannot be what delivers a change within a test."""
    return ["-watch", "-backend", "zookeeper", "-node", node, "-confdir", str(confdir), "-log-level", "debug"]


def kv_confdir(tmp_path: Path, root: str, extra: str = "") -> tuple[Path, Path]:
    dest = tmp_path / "kv.conf"
    resource = KV_RESOURCE.format(dest=dest, root=root) + extra
    return make_confdir(tmp_path, {"kv.toml": resource}, {"kv.tmpl": KV_TEMPLATE}), dest


def text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_watch_streams_creates_changes_and_deletes(
    zk: Any, zk_server: ZookeeperServer, root: str, tmp_path: Path
) -> None:
    """The prefix does not exist at start; then a leaf appears, changes, gets a child (its own
    data stops being a key, as confd's nodeWalk reads only leaves), and is deleted: each on disk."""
    confdir, dest = kv_confdir(tmp_path, root)
    with ConfpyProcess(*watch_args(zk_server.node, confdir), log_path=tmp_path / "confpy.log") as proc:
        wait_until(lambda: dest.exists(), what="first render")
        assert dest.read_text() == ""
        zk.create(f"{root}/kv/a", b"1", makepath=True)
        wait_until(lambda: text(dest) == "/kv/a=1\n", what="a znode under a prefix that did not exist")
        zk.set(f"{root}/kv/a", b"2")
        wait_until(lambda: text(dest) == "/kv/a=2\n", what="data change")
        zk.create(f"{root}/kv/a/x", b"deep")
        wait_until(lambda: text(dest) == "/kv/a/x=deep\n", what="a child under a leaf")
        zk.set(f"{root}/kv/a/x", b"deeper")
        wait_until(lambda: text(dest) == "/kv/a/x=deeper\n", what="data change of a new znode")
        zk.delete(f"{root}/kv/a", recursive=True)
        wait_until(lambda: text(dest) == "", what="delete")
        assert "re-reading every" not in proc.log


def test_a_watch_set_up_while_the_connection_drops_fails_within_the_timeout(
    zk: Any, zk_server: ZookeeperServer, root: str
) -> None:
    """kazoo queues a call made while it reconnects until the connection is back: through an
    outage, for ever. A connection that dropped in the middle of setting a watch up (the next
    call made after the drop) hung the start that set it up; now the call fails after
    -connect-timeout, and watch mode retries it. `_Subtree` on a session that has just dropped
    is that moment, made on purpose (the backend checks the connection before each watch)."""
    zk.create(f"{root}/kv/a", b"1", makepath=True)
    proxy = TcpProxy("127.0.0.1", zk_server.port)
    backend = ZookeeperBackend([f"127.0.0.1:{proxy.port}"], connect_timeout=1.0)
    try:
        assert backend.read([f"{root}/kv"]).values == {f"{root}/kv/a": "1"}
        client = backend._client
        proxy.cut()
        wait_until(lambda: not client.connected, what="kazoo noticing the cut")
        subtree = _Subtree(client, f"{root}/kv", lambda batch: None, timeout=1.0)
        errors: list[BackendError] = []

        def arm() -> None:
            try:
                subtree.arm()
            except BackendError as exc:
                errors.append(exc)

        arming = threading.Thread(target=arm, daemon=True)
        arming.start()
        arming.join(10)
        assert not arming.is_alive(), "the call waits for the connection to come back"
        assert [str(e) for e in errors] == ["zookeeper did not answer within 1 s"]
        subtree.cancel()
    finally:
        backend.close()
        proxy.close()


def test_watch_picks_up_a_change_made_while_cut_off(
    zk: Any, zk_server: ZookeeperServer, root: str, tmp_path: Path
) -> None:
    """confpy's connection is cut; znodes change meanwhile; once it is back the change is on
    disk without any further change to announce it, and nothing older is written after it."""
    zk.create(f"{root}/kv/a", b"1", makepath=True)
    proxy = TcpProxy("127.0.0.1", zk_server.port)
    confdir, dest = kv_confdir(tmp_path, root, history_extra(tmp_path))
    try:
        with ConfpyProcess(
            *watch_args(f"127.0.0.1:{proxy.port}", confdir), log_path=tmp_path / "confpy.log"
        ) as proc:
            wait_until(lambda: text(dest) == "/kv/a=1\n", what="first render")
            proxy.cut()
            proc.wait_log(f"watch on {root}/kv lost")
            zk.set(f"{root}/kv/a", b"2")
            zk.create(f"{root}/kv/b", b"away")
            proxy.restore()
            wait_until(lambda: text(dest) == "/kv/a=2\n/kv/b=away\n", timeout=40, what="resync")
            zk.delete(f"{root}/kv/b")
            wait_until(lambda: text(dest) == "/kv/a=2\n", what="a change after the resync")
            proc.signal(signal.SIGTERM)
            assert proc.wait() == 0
    finally:
        proxy.close()
    states = ["/kv/a=1\n", "/kv/a=2\n", "/kv/a=2\n/kv/b=away\n", "/kv/a=2\n"]
    check_history(written_history(tmp_path), states, "/kv/a=2\n")


def test_watch_resyncs_after_a_restart_and_never_goes_back(tmp_path: Path) -> None:
    """A writer keeps setting znodes while the server restarts (its data on disk): the session is
    suspended, resumed, and a full re-read picks up what changed while confpy was away; no key
    in any file written ever goes back to an older value (zookeeper has no snapshot read: a file
    may combine values read at different moments, as confd's may)."""
    from kazoo.client import KazooClient

    with ZookeeperServer() as server:
        server.start()
        client = KazooClient(hosts=server.node, timeout=10)
        client.start(timeout=15)
        root = "/r"
        client.create(f"{root}/kv/k0", b"start", makepath=True)
        confdir, dest = kv_confdir(tmp_path, root, history_extra(tmp_path))
        try:
            with ConfpyProcess(*watch_args(server.node, confdir), log_path=tmp_path / "confpy.log") as proc:
                wait_until(lambda: text(dest) == "/kv/k0=start\n", what="first render")
                writer = ZkWriter(client, root, count=120)
                writer.start()
                wait_until(lambda: len(writer.history) > 30, what="30 writes")
                server.stop()
                server.start()
                writer.join(90)
                final = zk_render(writer.state)
                wait_until(lambda: text(dest) == final, timeout=40, what="final state on disk")
                proc.signal(signal.SIGTERM)
                assert proc.wait() == 0
                assert f"watch on {root}/kv lost" in proc.log
        finally:
            client.stop()
            client.close()
    check_key_history(written_history(tmp_path), writer.sequences, final)


def zk_render(state: dict[str, str]) -> str:
    return "".join(f"/kv/{k}={v}\n" for k, v in sorted(state.items()))


class ZkWriter(threading.Thread):
    """Sets `ROOT/kv/k0..2` to new values (bounded count and time), retrying while the server is down."""

    def __init__(self, client: Any, root: str, count: int) -> None:
        super().__init__(daemon=True)
        self.client, self.root, self.count = client, root, count
        self.state: dict[str, str] = {"k0": "start"}
        self.history: list[str] = []  # the render of the state after each acknowledged write
        self.sequences: dict[str, list[str]] = {"/kv/k0": ["start"]}  # each key's values, in order

    def run(self) -> None:
        from kazoo.exceptions import KazooException

        deadline = time.monotonic() + 80
        i = 0
        while i < self.count and time.monotonic() < deadline:
            name, value = f"k{i % 3}", f"v{i}"
            try:
                if self.client.exists(f"{self.root}/kv/{name}"):
                    self.client.set(f"{self.root}/kv/{name}", value.encode())
                else:
                    self.client.create(f"{self.root}/kv/{name}", value.encode())
            except KazooException:
                time.sleep(0.1)
                continue
            self.state[name] = value
            self.history.append(zk_render(self.state))
            self.sequences.setdefault(f"/kv/{name}", []).append(value)
            i += 1
            time.sleep(0.01)


# --- the same files as confd's, rule by rule ------------------------------------------------------

# Every key one to four levels deep, shallowest first.
ANY_DEPTH = "".join(
    f'{{{{range gets "{p}"}}}}{{{{.Key}}}}={{{{.Value}}}}\n{{{{end}}}}'
    for p in ("/*", "/*/*", "/*/*/*", "/*/*/*/*")
)
CASE_RESOURCE = """[template]
src = "case.tmpl"
dest = "{dest}"
prefix = "{prefix}"
keys = [{keys}]
"""
# (znodes under the test's root: path -> data, resource prefix under the root, keys, expected file)
CASES = {
    # nodeWalk: a znode with children contributes only its leaves, never its own data.
    "inner-data-is-not-read": (
        {"/app": "inner", "/app/db": "inner too", "/app/db/host": "h", "/app/name": "n"},
        "", ["/app"], "/app/name=n\n/app/db/host=h\n",
    ),
    # a leaf key is its own value; a leaf without data is "".
    "leaf-and-empty": (
        {"/app/name": "n", "/app/empty": ""}, "", ["/app/name", "/app/empty"], "/app/empty=\n/app/name=n\n",
    ),
    # deep trees are walked to every leaf; "/appx" is not below "/app".
    "deep": (
        {"/app/a/b/c": "abc", "/app/a/d": "ad", "/appx/k": "no"},
        "", ["/app"], "/app/a/d=ad\n/app/a/b/c=abc\n",
    ),
    # the resource's prefix joins its keys (confd's setVars), and is stripped for the template.
    "prefix": (
        {"/svc/app/db/host": "h", "/svc/app/db/port": "1"}, "/svc/app", ["/db"], "/db/host=h\n/db/port=1\n",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_mapping_is_confds(case: str, zk: Any, zk_server: ZookeeperServer, root: str, tmp_path: Path) -> None:
    """confpy's -onetime writes the expected file; with CONFD_BIN, confd writes the same bytes."""
    data, prefix, keys, expected = CASES[case]
    for path, value in sorted(data.items()):
        zk.ensure_path(root + path)
        zk.set(root + path, value.encode())
    dest = tmp_path / "case.out"
    # The test's root is the resource's prefix (as a user's own subtree would be).
    quoted = ", ".join(f'"{k}"' for k in keys)
    resource = CASE_RESOURCE.format(dest=dest, prefix=root + prefix, keys=quoted)
    confdir = make_confdir(tmp_path, {"case.toml": resource}, {"case.tmpl": ANY_DEPTH})
    args = ["-onetime", "-backend", "zookeeper", "-node", zk_server.node, "-confdir", str(confdir)]
    result = run_confpy(*args)
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == expected
    if CONFD_BIN:
        dest.unlink()
        confd = subprocess.run([CONFD_BIN, *args], capture_output=True, text=True, timeout=60, check=False)
        assert confd.returncode == 0, confd.stderr
        assert dest.read_text() == expected, "confd wrote otherwise"
