"""The redis backend against a real redis-server: confd's key mapping, databases, passwords, errors.

Every expectation follows confd's backends/redis/client.go (GetValues, transform, clean,
tryConnect); with CONFD_BIN set, the onetime render is also compared with confd's byte for byte.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from confpy.backends.redis import RedisBackend, parse_redis_node
from confpy.errors import BackendError, ConfigError
from tests.support.helpers import ConfpyProcess, make_confdir, run_confpy, wait_until
from tests.support.history import check_history, check_key_history, history_extra, written_history
from tests.support.kv_servers import RedisServer
from tests.support.tcp_proxy import TcpProxy

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


def test_watch_without_notifications_polls_each_resource_key_as_confd_reads_it(
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
        # The server sends no keyspace notifications: one line says so, how to enable them, and
        # that confpy polls instead.
        message = (
            f"redis keyspace notifications are off at {redis_server.node} (notify-keyspace-events is '', "
            "the watch needs K, g, $, h, x): enable them with `CONFIG SET notify-keyspace-events KA` "
            "or `notify-keyspace-events KA` in redis.conf: re-reading every 0.2 s instead"
        )
        assert proc.log.count(message) == 1, proc.log


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


# --- watch through keyspace notifications -------------------------------------------------------

NOTIFY = ("--notify-keyspace-events", "KA")
KV_TEMPLATE = '{{range gets "/kv/*"}}{{.Key}}={{.Value}}\n{{end}}'


def notifying(*extra: str) -> RedisServer:
    return RedisServer([*NOTIFY, *extra])


def watch_args(node: str, confdir: Path) -> list[str]:
    """No -interval: the default 600 s re-read cannot be what delivers a change within a test."""
    return ["-watch", "-backend", "redis", "-node", node, "-confdir", str(confdir), "-log-level", "debug"]


def kv_render(state: dict[str, str]) -> str:
    return "".join(f"{k}={v}\n" for k, v in sorted(state.items()))


def test_watch_streams_every_kind_of_change(tmp_path: Path) -> None:
    """Strings, hash fields, deletes and a string that starts shadowing a directory each reach
    the files at once, each resource reading its own key as confd's GetValues does."""
    import redis

    with notifying() as server:
        server.start()
        client = redis.Redis(host="127.0.0.1", port=server.port)
        client.set("/app/db/host", "h1")
        client.hset("/app/h", mapping={"f": "1"})
        client.set("/appx/k", "x1")
        dests = {name: tmp_path / f"{name}.out" for name in ("app", "db", "h", "appx")}
        keys = {"app": "/app", "db": "/app/db", "h": "/app/h", "appx": "/appx"}
        reads = {"app": "/app", "db": "/app/db/*", "h": "/app/h/*", "appx": "/appx/*"}
        resources = {f"{n}.toml": NESTED_RESOURCE.format(name=n, dest=dests[n], key=keys[n]) for n in dests}
        templates = {
            f"{n}.tmpl": f'{{{{range gets "{reads[n]}"}}}}{{{{.Key}}}}={{{{.Value}}}}\n{{{{end}}}}'
            for n in dests
        }
        confdir = make_confdir(tmp_path, resources, templates)
        with ConfpyProcess(*watch_args(server.node, confdir), log_path=tmp_path / "confpy.log") as proc:
            wait_until(lambda: all(d.exists() for d in dests.values()), what="first renders")
            assert dests["h"].read_text() == "/app/h/f=1\n"
            client.set("/app/db/host", "h2")
            wait_until(lambda: dests["db"].read_text() == "/app/db/host=h2\n", what="string update")
            client.hset("/app/h", "g", "2")
            wait_until(lambda: dests["h"].read_text() == "/app/h/f=1\n/app/h/g=2\n", what="hash field")
            client.delete("/appx/k")
            wait_until(lambda: dests["appx"].read_text() == "", what="delete")
            client.set("/app", "top")  # TYPE string now: for this resource nothing below /app is read
            wait_until(lambda: dests["app"].read_text() == "/app=top\n", what="string over a directory")
            assert "re-reading every" not in proc.log
        client.close()


def test_watch_resyncs_after_a_restart_and_never_goes_back(tmp_path: Path) -> None:
    """A writer keeps setting keys while the server restarts (its data kept in an append-only
    file): the subscription is lost, resumed, and a full re-read picks up what changed while
    confpy was away; no key in any file written ever goes back to an older value (redis has no
    snapshot of several keys: a file may combine values read at different moments, as confd's may)."""
    import redis

    with notifying("--appendonly", "yes", "--appendfsync", "always") as server:
        server.start()
        client = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=2)
        client.set("/kv/k0", "start")
        dest = tmp_path / "kv.conf"
        resource = NESTED_RESOURCE.format(name="kv", dest=dest, key="/kv") + history_extra(tmp_path)
        confdir = make_confdir(tmp_path, {"kv.toml": resource}, {"kv.tmpl": KV_TEMPLATE})
        with ConfpyProcess(*watch_args(server.node, confdir), log_path=tmp_path / "confpy.log") as proc:
            wait_until(lambda: dest.exists() and dest.read_text() == "/kv/k0=start\n", what="first render")
            writer = RedisWriter(client, count=150)
            writer.start()
            wait_until(lambda: len(writer.history) > 30, what="30 writes")
            server.stop()
            server.start()
            writer.join(70)
            final = kv_render(writer.state)
            wait_until(lambda: dest.read_text() == final, timeout=30, what="final state on disk")
            proc.signal(signal.SIGTERM)
            assert proc.wait() == 0
            assert "redis keyspace subscription lost" in proc.log
        client.close()
    check_key_history(written_history(tmp_path), writer.sequences, final)


def test_watch_picks_up_a_change_made_while_cut_off(tmp_path: Path) -> None:
    """confpy's connections are cut; keys change meanwhile; once they are back the change is on
    disk without any further change to announce it, and nothing older is written after it."""
    import redis

    with notifying() as server:
        server.start()
        client = redis.Redis(host="127.0.0.1", port=server.port)
        client.set("/kv/a", "1")
        proxy = TcpProxy("127.0.0.1", server.port)
        dest = tmp_path / "kv.conf"
        resource = NESTED_RESOURCE.format(name="kv", dest=dest, key="/kv") + history_extra(tmp_path)
        confdir = make_confdir(tmp_path, {"kv.toml": resource}, {"kv.tmpl": KV_TEMPLATE})
        node = f"127.0.0.1:{proxy.port}"
        try:
            with ConfpyProcess(*watch_args(node, confdir), log_path=tmp_path / "confpy.log") as proc:
                wait_until(lambda: dest.exists() and dest.read_text() == "/kv/a=1\n", what="first render")
                proxy.cut()
                # the subscription lost, or (cut before it was in place: the watches open after
                # the first render) its set-up failed: either way watch mode says so and retries
                proc.wait_log("watch on /kv lost")
                client.set("/kv/a", "2")
                client.set("/kv/b", "away")
                proxy.restore()
                wait_until(lambda: dest.read_text() == "/kv/a=2\n/kv/b=away\n", timeout=30, what="resync")
                client.delete("/kv/b")
                wait_until(lambda: dest.read_text() == "/kv/a=2\n", what="a change after the resync")
                proc.signal(signal.SIGTERM)
                assert proc.wait() == 0
        finally:
            proxy.close()
            client.close()
    states = ["/kv/a=1\n", "/kv/a=2\n", "/kv/a=2\n/kv/b=away\n", "/kv/a=2\n"]
    check_history(written_history(tmp_path), states, "/kv/a=2\n")


class RedisWriter(threading.Thread):
    """Sets `/kv/k0..2` to new values (bounded count and time), retrying while the server is down."""

    def __init__(self, client: Any, count: int) -> None:
        super().__init__(daemon=True)
        self.client, self.count = client, count
        self.state: dict[str, str] = {"/kv/k0": "start"}
        self.history: list[str] = []  # the render of the state after each acknowledged set
        self.sequences: dict[str, list[str]] = {"/kv/k0": ["start"]}  # each key's values, in order

    def run(self) -> None:
        import redis

        deadline = time.monotonic() + 60
        i = 0
        while i < self.count and time.monotonic() < deadline:
            key, value = f"/kv/k{i % 3}", f"v{i}"
            try:
                self.client.set(key, value)
            except redis.RedisError:
                time.sleep(0.1)
                continue
            self.state[key] = value
            self.history.append(kv_render(self.state))
            self.sequences.setdefault(key, []).append(value)
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
keys = ["{key}"]
"""
# (redis data: key -> str | dict (hash) | list | set, separator, prefix, resource key, expected file)
CASES = {
    # GetValues, TYPE string: GET that key; nothing below it is read.
    "string-shadows-below": ({"/app": "top", "/app/db/host": "h"}, "", "", "/app", "/app=top\n"),
    # TYPE none: SCAN "/app/db/*" and GET each; a hash, list or set below fails GET and is skipped;
    # "/app/dbx" is not below "/app/db".
    "directory": (
        {"/app/db/host": "h", "/app/db/x/port": "1", "/app/dbx/k": "no", "/app/db/h": {"f": "v"},
         "/app/db/l": ["a"], "/app/db/s": {"m"}},
        "", "", "/app/db", "/app/db/host=h\n/app/db/x/port=1\n",
    ),
    # TYPE hash: HSCAN, clean(k + "/" + field): a field with "/" nests.
    "hash": ({"/app/h": {"f": "1", "a/b": "2"}}, "", "", "/app/h", "/app/h/f=1\n/app/h/a/b=2\n"),
    # TYPE list (or set): neither string nor hash, so a directory: SCAN "/app/l/*" finds nothing.
    "list-is-empty": ({"/app/l": ["a", "b"], "/app/s": {"m"}}, "", "", "/app/l", ""),
    # key "/": SCAN "*", every string key, clean adds the leading "/".
    "root": ({"plain": "p", "/a/b": "ab", "/h": {"f": "v"}}, "", "", "/", "/plain=p\n/a/b=ab\n"),
    # transform: "/app/db" -> "app:db", SCAN "app:db:*"; clean maps ":" back to "/", in fields too.
    "separator": (
        {"app:db:host": "h", "app:dbx:k": "no", "app:h": {"x:y": "f"}, "/app/db/host": "slashes"},
        ":", "", "/app/db", "/app/db/host=h\n",
    ),
    "separator-hash": ({"app:h": {"x:y": "f"}}, ":", "", "/app/h", "/app/h/x/y=f\n"),
    # the resource's prefix joins its keys (confd's setVars), and is stripped for the template.
    "prefix": ({"/svc/app/db/host": "h"}, "", "/svc/app", "/db", "/db/host=h\n"),
}  # fmt: skip


def load_redis(client: Any, data: dict[str, Any]) -> None:
    for key, value in data.items():
        if isinstance(value, dict):
            client.hset(key, mapping=value)
        elif isinstance(value, list):
            client.rpush(key, *value)
        elif isinstance(value, set):
            client.sadd(key, *value)
        else:
            client.set(key, value)


def onetime_both(args: list[str], dest: Path, expected: str) -> None:
    """confpy's -onetime writes `expected`; with CONFD_BIN, confd writes the same bytes."""
    result = run_confpy(*args)
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == expected
    if CONFD_BIN:
        dest.unlink()
        confd = subprocess.run([CONFD_BIN, *args], capture_output=True, text=True, timeout=60, check=False)
        assert confd.returncode == 0, confd.stderr
        assert dest.read_text() == expected, "confd wrote otherwise"


@pytest.mark.parametrize("case", sorted(CASES))
def test_mapping_is_confds(case: str, rds: Any, redis_server: RedisServer, tmp_path: Path) -> None:
    data, separator, prefix, key, expected = CASES[case]
    load_redis(rds, data)
    dest = tmp_path / "case.out"
    resource = CASE_RESOURCE.format(dest=dest, prefix=prefix, key=key)
    confdir = make_confdir(tmp_path, {"case.toml": resource}, {"case.tmpl": ANY_DEPTH})
    args = ["-onetime", "-backend", "redis", "-node", redis_server.node, "-confdir", str(confdir)]
    onetime_both([*args, *(["-separator", separator] if separator else [])], dest, expected)


def test_database_and_client_key_password_as_confd_takes_them(tmp_path: Path) -> None:
    """`-node host:port/3` reads database 3 (tryConnect); confd's password is `-client-key`
    (backends/client.go New passes config.ClientKey), and confpy takes it too."""
    import redis

    with RedisServer(["--requirepass", "s3cret"]) as server:
        server.start()
        admin = redis.Redis(host="127.0.0.1", port=server.port, password="s3cret", db=3)
        admin.set("/app/db/host", "db3")
        admin.close()
        dest = tmp_path / "case.out"
        resource = CASE_RESOURCE.format(dest=dest, prefix="", key="/app/db")
        confdir = make_confdir(tmp_path, {"case.toml": resource}, {"case.tmpl": ANY_DEPTH})
        args = ["-onetime", "-backend", "redis", "-node", f"{server.node}/3", "-confdir", str(confdir)]
        onetime_both([*args, "-client-key", "s3cret"], dest, "/app/db/host=db3\n")
        result = run_confpy(*args, "-password", "s3cret")
        assert result.returncode == 0, result.stderr


NESTED = {"/app": "top", "/app/db/host": "h", "/app/h": {"f": "v"}, "/app/x/y": "xy"}
NESTED_KEYS = {"app": "/app", "db": "/app/db", "h": "/app/h", "root": "/"}
NESTED_EXPECTED = {
    "app": "/app=top\n",  # a string: nothing below it, though other resources read below it
    "db": "/app/db/host=h\n",
    "h": "/app/h/f=v\n",
    "root": "/app=top\n/app/db/host=h\n/app/x/y=xy\n",  # SCAN "*": strings only, not the hash's field
}


def nested_confdir(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    dests = {name: tmp_path / f"{name}.out" for name in NESTED_KEYS}
    resources = {
        f"{n}.toml": NESTED_RESOURCE.format(name=n, dest=dests[n], key=NESTED_KEYS[n]) for n in dests
    }
    return make_confdir(tmp_path, resources, {f"{n}.tmpl": ANY_DEPTH for n in dests}), dests


def test_resources_with_nested_keys_each_read_their_own(
    rds: Any, redis_server: RedisServer, tmp_path: Path
) -> None:
    """One run, four resources whose keys nest: each file holds what confd's GetValues gives that
    resource alone (confd reads per resource, resource.go setVars), not keys another one read."""
    load_redis(rds, NESTED)
    confdir, dests = nested_confdir(tmp_path)
    args = ["-onetime", "-backend", "redis", "-node", redis_server.node, "-confdir", str(confdir)]
    result = run_confpy(*args)
    assert result.returncode == 0, result.stderr
    assert {n: d.read_text() for n, d in dests.items()} == NESTED_EXPECTED
    if CONFD_BIN:
        for dest in dests.values():
            dest.unlink()
        confd = subprocess.run([CONFD_BIN, *args], capture_output=True, text=True, timeout=60, check=False)
        assert confd.returncode == 0, confd.stderr
        assert {n: d.read_text() for n, d in dests.items()} == NESTED_EXPECTED, "confd wrote otherwise"


def test_watch_keeps_nested_resources_apart(tmp_path: Path) -> None:
    """The same under -watch, and after a change each file still holds only its own keys."""
    import redis

    with notifying() as server:
        server.start()
        client = redis.Redis(host="127.0.0.1", port=server.port)
        load_redis(client, NESTED)
        confdir, dests = nested_confdir(tmp_path)
        with ConfpyProcess(*watch_args(server.node, confdir), log_path=tmp_path / "confpy.log"):
            wait_until(lambda: all(d.exists() for d in dests.values()), what="first renders")
            assert {n: d.read_text() for n, d in dests.items()} == NESTED_EXPECTED
            client.set("/app/db/port", "1")
            wait_until(lambda: dests["db"].read_text() == "/app/db/host=h\n/app/db/port=1\n", what="db")
            wait_until(lambda: "/app/db/port=1" in dests["root"].read_text(), what="root")
            assert dests["app"].read_text() == "/app=top\n"
        client.close()
