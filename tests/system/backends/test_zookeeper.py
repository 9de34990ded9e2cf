"""The zookeeper backend against a real zookeeper (Debian's): confd's walk of znodes, and errors.

Every expectation follows confd's backends/zookeeper/client.go (GetValues, nodeWalk); with
CONFD_BIN set, the onetime render is also compared with confd's byte for byte.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from confpy.backends.zookeeper import ZookeeperBackend, parse_zookeeper_node
from confpy.errors import BackendError, ConfigError
from tests.support.helpers import make_confdir, run_confpy
from tests.support.kv_servers import ZookeeperServer

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
