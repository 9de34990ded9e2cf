"""The redis backend against a real redis-server: confd's key mapping, databases, passwords, errors.

Every expectation follows confd's backends/redis/client.go (GetValues, transform, clean,
tryConnect); with CONFD_BIN set, the onetime render is also compared with confd's byte for byte.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from confpy.backends.redis import RedisBackend, parse_redis_node
from confpy.errors import BackendError, ConfigError
from tests.support.helpers import ConfpyProcess, make_confdir, run_confpy, wait_until
from tests.support.kv_servers import RedisServer

CONFD_BIN = os.environ.get("CONFD_BIN")


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        server.start()
        yield server


@pytest.fixture
def rds(redis_server: RedisServer) -> Iterator[Any]:
    """A client on database 0; every database is emptied before the test."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=redis_server.port)
    client.flushall()
    yield client
    client.close()


def backend(server: RedisServer, **options: Any) -> RedisBackend:
    return RedisBackend([server.node], **options)


def test_string_key_is_one_value_and_its_children_are_not_read(rds: Any, redis_server: RedisServer) -> None:
    # GetValues: TYPE string -> GET that key only, no SCAN below it.
    rds.set("/app", "top")
    rds.set("/app/port", "80")
    assert backend(redis_server).read(["/app"]).values == {"/app": "top"}


def test_directory_scans_strings_below_and_skips_other_types(rds: Any, redis_server: RedisServer) -> None:
    # TYPE none -> SCAN MATCH "/app/*", GET each: a hash below a directory fails GET and is skipped.
    rds.set("/app/db/host", "10.0.0.1")
    rds.set("/app/db/port", "5432")
    rds.set("/appx/other", "sibling")
    rds.hset("/app/h", mapping={"f": "v"})
    rds.rpush("/app/list", "x")
    assert backend(redis_server).read(["/app"]).values == {"/app/db/host": "10.0.0.1", "/app/db/port": "5432"}
    assert backend(redis_server).read(["/app/*"]).values == {
        "/app/db/host": "10.0.0.1",
        "/app/db/port": "5432",
    }


def test_hash_fields_are_keys(rds: Any, redis_server: RedisServer) -> None:
    # TYPE hash -> HSCAN: clean(k + "/" + field).
    rds.hset("/app/db", mapping={"host": "h", "port": "1"})
    assert backend(redis_server).read(["/app/db"]).values == {"/app/db/host": "h", "/app/db/port": "1"}


def test_root_scans_every_key_and_adds_the_leading_slash(rds: Any, redis_server: RedisServer) -> None:
    rds.set("plain", "p")
    rds.set("/a/b", "ab")
    assert backend(redis_server).read(["/"]).values == {"/plain": "p", "/a/b": "ab"}


def test_separator_maps_both_ways(rds: Any, redis_server: RedisServer) -> None:
    # transform("/app/db") = "app:db"; SCAN "app:db:*"; clean("app:db:host") = "/app/db/host".
    rds.set("app:db:host", "h")
    rds.set("app:db:port", "1")
    rds.set("app:dbx:host", "sibling")
    rds.set("app:name", "n")
    rds.hset("app:h", mapping={"a:b": "hash"})
    got = backend(redis_server, separator=":").read(["/app/db", "/app/name", "/app/h"]).values
    assert got == {"/app/db/host": "h", "/app/db/port": "1", "/app/name": "n", "/app/h/a/b": "hash"}


def test_database_from_the_node(rds: Any, redis_server: RedisServer) -> None:
    rds.set("/k", "db0")
    import redis

    other = redis.Redis(host="127.0.0.1", port=redis_server.port, db=3)
    other.set("/k", "db3")
    other.close()
    assert RedisBackend([redis_server.node + "/3"]).read(["/k"]).values == {"/k": "db3"}
    assert RedisBackend([redis_server.node]).read(["/k"]).values == {"/k": "db0"}


def test_missing_key_reads_nothing(rds: Any, redis_server: RedisServer) -> None:
    assert backend(redis_server).read(["/nothing"]).values == {}


def test_nodes_are_tried_in_order(rds: Any, redis_server: RedisServer) -> None:
    rds.set("/k", "v")
    dead = "127.0.0.1:1"
    assert RedisBackend([dead, redis_server.node]).read(["/k"]).values == {"/k": "v"}


def test_unreachable_is_one_backend_error() -> None:
    with pytest.raises(BackendError, match=r"cannot connect to redis: 127\.0\.0\.1:1: "):
        RedisBackend(["127.0.0.1:1"]).read(["/k"])


def test_not_utf8_names_its_key(rds: Any, redis_server: RedisServer) -> None:
    rds.set("/bin", b"\xff")
    with pytest.raises(Exception, match="/bin"):
        backend(redis_server).read(["/bin"])


@pytest.mark.parametrize("node", ["localhost", "host:port", ":6379", "h:0", "h:70000"])
def test_bad_nodes_are_refused(node: str) -> None:
    with pytest.raises(ConfigError, match="redis backend"):
        parse_redis_node(node)


def test_node_forms() -> None:
    assert parse_redis_node("127.0.0.1:6379") == ("127.0.0.1", 6379, 0)
    assert parse_redis_node("127.0.0.1:6379/2") == ("127.0.0.1", 6379, 2)
    assert parse_redis_node("[::1]:6379") == ("::1", 6379, 0)


def test_password_alone_authenticates(tmp_path: Path) -> None:
    with RedisServer(["--requirepass", "s3cret"]) as server:
        server.start()
        import redis

        admin = redis.Redis(host="127.0.0.1", port=server.port, password="s3cret")
        admin.set("/k", "v")
        admin.close()
        assert RedisBackend([server.node], password="s3cret").read(["/k"]).values == {"/k": "v"}
        with pytest.raises(BackendError, match=r"authentication failed \(invalid username-password pair"):
            RedisBackend([server.node], password="wrong").read(["/k"])
        with pytest.raises(BackendError, match=r"the server wants a password \(-password\)"):
            RedisBackend([server.node]).read(["/k"])


RESOURCE = """[template]
src = "app.conf.tmpl"
dest = "{dest}"
keys = ["/app/db", "/app/name"]
"""
TEMPLATE = """name={{getv "/app/name"}}
{{range gets "/app/db/*"}}{{.Key}}={{.Value}}
{{end}}"""


def test_onetime_renders_from_redis(rds: Any, redis_server: RedisServer, tmp_path: Path) -> None:
    rds.set("app:db:host", "10.0.0.1")
    rds.set("app:db:port", "5432")
    rds.set("app:dbx:host", "not mine")
    rds.set("app:name", "shop")
    dest = tmp_path / "app.conf"
    confdir = make_confdir(tmp_path, {"app.toml": RESOURCE.format(dest=dest)}, {"app.conf.tmpl": TEMPLATE})
    args = [
        "-onetime",
        "-backend",
        "redis",
        "-node",
        redis_server.node,
        "-separator",
        ":",
        "-confdir",
        str(confdir),
    ]
    result = run_confpy(*args)
    assert result.returncode == 0, result.stderr
    expected = "name=shop\n/app/db/host=10.0.0.1\n/app/db/port=5432\n"
    assert dest.read_text() == expected
    if CONFD_BIN:
        dest.unlink()
        confd = subprocess.run([CONFD_BIN, *args], capture_output=True, text=True, timeout=60, check=False)
        assert confd.returncode == 0, confd.stderr
        assert dest.read_text() == expected


def test_onetime_unreachable_exits_1_in_one_line(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    confdir = make_confdir(tmp_path, {"app.toml": RESOURCE.format(dest=dest)}, {"app.conf.tmpl": TEMPLATE})
    result = run_confpy(
        "-onetime",
        "-backend",
        "redis",
        "-node",
        "127.0.0.1:1",
        "-confdir",
        str(confdir),
        "-connect-timeout",
        "1",
    )
    assert result.returncode == 1, result.stderr
    assert "cannot connect to redis" in result.stderr
    assert not dest.exists()


def test_separator_is_refused_for_other_backends(tmp_path: Path) -> None:
    confdir = make_confdir(tmp_path, {}, {})
    result = run_confpy("-onetime", "-backend", "env", "-separator", ":", "-confdir", str(confdir))
    assert result.returncode == 2
    assert "-separator is only used with -backend redis" in result.stderr


def test_settings_for_redis(tmp_path: Path) -> None:
    from confpy.config.settings import load_settings

    (tmp_path / "confd.toml").write_text('backend = "redis"\nseparator = ":"\npassword = "pw"\n')
    settings = load_settings({"confdir": str(tmp_path)}, environ={})
    assert (settings.backend, settings.separator, settings.password) == ("redis", ":", "pw")
    assert settings.backend_nodes == ("127.0.0.1:6379",)  # confd's default (config.go)
    (tmp_path / "confd.toml").write_text('backend = "etcd"\npassword = "pw"\n')
    with pytest.raises(ConfigError, match="-username and -password must be given together"):
        load_settings({"confdir": str(tmp_path)}, environ={})


def test_etcd_runs_import_neither_client(tmp_path: Path) -> None:
    """Start-up time: redis-py and kazoo are imported only by their own backends."""
    code = (
        "import sys\n"
        "from confpy.config.settings import load_settings\n"
        "from confpy.config.backend import open_backend\n"
        f"open_backend(load_settings({{'confdir': {str(tmp_path)!r}}}, environ={{}})).close()\n"
        "import confpy.cli.app, confpy.runtime.launch\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('redis', 'kazoo')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"


NESTED_RESOURCE = """[template]
src = "{name}.tmpl"
dest = "{dest}"
keys = ["{key}"]
"""


def test_watch_polls_each_resource_key_as_confd_reads_it(
    rds: Any, redis_server: RedisServer, tmp_path: Path
) -> None:
    """Watch mode re-reads every -interval with each resource's own keys: a string key `/app`
    shadows what is below it (confd's GetValues), so `/app/db` and `/appx` are read on their own,
    not as part of a prefix `/app` that would miss them."""
    rds.set("/app", "top")
    rds.set("/app/db/host", "h1")
    rds.set("/appx/k", "x1")
    dests = {name: tmp_path / f"{name}.out" for name in ("app", "db", "appx")}
    keys = {"app": "/app", "db": "/app/db", "appx": "/appx"}
    reads = {"app": "/app", "db": "/app/db/*", "appx": "/appx/*"}
    resources = {f"{n}.toml": NESTED_RESOURCE.format(name=n, dest=dests[n], key=keys[n]) for n in dests}
    templates = {
        f"{n}.tmpl": f'{{{{range gets "{reads[n]}"}}}}{{{{.Key}}}}={{{{.Value}}}}\n{{{{end}}}}' for n in dests
    }
    confdir = make_confdir(tmp_path, resources, templates)
    args = [
        "-watch",
        "-interval",
        "0.2",
        "-backend",
        "redis",
        "-node",
        redis_server.node,
        "-confdir",
        str(confdir),
    ]
    with ConfpyProcess(*args, log_path=tmp_path / "confpy.log") as proc:
        wait_until(lambda: all(d.exists() for d in dests.values()), what="first renders")
        assert dests["app"].read_text() == "/app=top\n"
        assert dests["db"].read_text() == "/app/db/host=h1\n"
        assert dests["appx"].read_text() == "/appx/k=x1\n"
        rds.set("/app/db/host", "h2")
        rds.set("/appx/k", "x2")
        wait_until(lambda: dests["db"].read_text() == "/app/db/host=h2\n", what="db update")
        wait_until(lambda: dests["appx"].read_text() == "/appx/k=x2\n", what="appx update")
        assert "the redis backend cannot watch for changes: re-reading every 0.2 s" in proc.log


def test_watch_survives_a_redis_restart_and_catches_up(tmp_path: Path) -> None:
    """A failed re-read keeps the last good file and is retried; after the restart the next
    re-read (a full one, through a new connection) renders what changed meanwhile."""
    import redis

    with RedisServer() as server:
        server.start()
        client = redis.Redis(host="127.0.0.1", port=server.port)
        client.set("/app/name", "one")
        dest = tmp_path / "app.conf"
        resource = NESTED_RESOURCE.format(name="app", dest=dest, key="/app/name")
        confdir = make_confdir(tmp_path, {"app.toml": resource}, {"app.tmpl": '{{getv "/app/name"}}\n'})
        args = [
            "-watch",
            "-interval",
            "0.2",
            "-backend",
            "redis",
            "-node",
            server.node,
            "-confdir",
            str(confdir),
        ]
        with ConfpyProcess(*args, log_path=tmp_path / "confpy.log") as proc:
            wait_until(lambda: dest.exists() and dest.read_text() == "one\n", what="first render")
            server.stop()
            proc.wait_log("periodic re-read failed")
            assert dest.read_text() == "one\n"
            server.start()
            client = redis.Redis(host="127.0.0.1", port=server.port)
            client.set("/app/name", "two")
            wait_until(lambda: dest.read_text() == "two\n", what="render after the restart")
            assert proc.proc.poll() is None
        client.close()
