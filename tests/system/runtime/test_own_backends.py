"""Per-resource backends (`[backend]` in a resource, the fork's syntax) against real etcd servers,
the file backend and the environment: -onetime, -watch and -interval, as a user runs them."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import redis

from confpy.backends.memory import MemoryBackend
from confpy.config.settings import Settings
from confpy.runtime.load import load_processors
from confpy.runtime.watch import WatchEngine
from tests.support.etcd_server import EtcdServer, free_port
from tests.support.helpers import ConfpyProcess, make_confdir, run_confpy, wait_until
from tests.support.kv_servers import RedisServer

TEMPLATE = "{% for kv in gets('/*') %}{{ kv.Key }}={{ kv.Value }}\n{% endfor %}"


def resource(dest: Path, prefix: str, backend: str = "") -> str:
    text = f'[template]\nsrc = "kv.j2"\ndest = "{dest}"\nprefix = "{prefix}"\nkeys = ["/"]\n'
    return text + (f"\n[backend]\n{backend}" if backend else "")


def read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


@pytest.fixture
def second_etcd(fresh_etcd: EtcdServer) -> EtcdServer:
    """Another cluster, for the resources that name it (the session's `etcd` is the global one)."""
    return fresh_etcd


@pytest.fixture
def stack(tmp_path: Path, etcd: Any, etcd_client: Any, etcd_prefix: str, second_etcd: EtcdServer) -> Any:
    """Four resources: the global etcd; a second etcd (two resources: one connection); a file."""
    etcd_client.put(f"{etcd_prefix}/config/port", "80")
    second = second_etcd.client()
    second.put(f"{etcd_prefix}/secrets/db", "s3cret")
    second.put(f"{etcd_prefix}/tls/cert", "CERT1")
    data = tmp_path / "local.yaml"
    data.write_text("local:\n  mode: dev\n")
    own = f'backend = "etcdv3"\nnodes = ["{second_etcd.url}"]\n'
    confdir = make_confdir(
        tmp_path,
        {
            "config.toml": resource(tmp_path / "config.conf", f"{etcd_prefix}/config"),
            "secrets.toml": resource(tmp_path / "secrets.conf", f"{etcd_prefix}/secrets", own),
            "tls.toml": resource(tmp_path / "tls.conf", f"{etcd_prefix}/tls", own),
            "local.toml": resource(
                tmp_path / "local.conf", "/local", f'backend = "file"\nfile = ["{data}"]\n'
            ),
        },
        {"kv.j2": TEMPLATE},
    )
    yield {"confdir": confdir, "tmp": tmp_path, "url": etcd.url, "second": second, "data": data}
    second.close()


def test_onetime_reads_each_resource_from_its_backend(stack: Any) -> None:
    tmp = stack["tmp"]
    result = run_confpy("-onetime", "-node", stack["url"], "-confdir", str(stack["confdir"]))
    assert result.returncode == 0, result.stderr
    assert read(tmp / "config.conf") == "/port=80\n"
    assert read(tmp / "secrets.conf") == "/db=s3cret\n"
    assert read(tmp / "tls.conf") == "/cert=CERT1\n"
    assert read(tmp / "local.conf") == "/mode=dev\n"


def test_resources_naming_one_backend_share_it(stack: Any) -> None:
    """Two resources on the second etcd: one source (one mirror, one connection); a `[backend]`
    that spells the global one joins the global one's."""
    same = f'backend = "etcd"\nnodes = ["{stack["url"]}"]\n'
    (stack["confdir"] / "conf.d" / "same.toml").write_text(resource(stack["tmp"] / "s.conf", "/s", same))
    settings = Settings(confdir=stack["confdir"], nodes=(stack["url"],), watch=True)
    processors, errors = load_processors(settings)
    assert not errors
    engine = WatchEngine(MemoryBackend(), processors)
    by_source = [sorted(p.resource.name for p in s.processors) for s in engine.sources]
    assert by_source == [["config.toml", "same.toml"], ["local.toml"], ["secrets.toml", "tls.toml"]]
    engine.stop()


def test_an_unreachable_own_backend_fails_its_resource_only(stack: Any, tmp_path: Path) -> None:
    dead = f'backend = "etcdv3"\nnodes = ["http://127.0.0.1:{free_port()}"]\nconnect_timeout = "1s"\n'
    (stack["confdir"] / "conf.d" / "dead.toml").write_text(resource(tmp_path / "dead.conf", "/dead", dead))
    result = run_confpy("-onetime", "-node", stack["url"], "-confdir", str(stack["confdir"]))
    assert result.returncode == 1
    failures = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(failures) == 2, result.stderr  # the resource's line, then the count
    assert "dead.toml: backend etcdv3 (nodes http://127.0.0.1:" in failures[0]
    assert "1 of the template resources failed" in failures[1]
    assert not (tmp_path / "dead.conf").exists()
    assert read(tmp_path / "secrets.conf") == "/db=s3cret\n"
    assert read(tmp_path / "local.conf") == "/mode=dev\n"


def test_watch_follows_every_backend_through_a_restart_of_the_second(
    stack: Any, etcd_client: Any, etcd_prefix: str, second_etcd: EtcdServer
) -> None:
    """Each backend has its own watches: a change in any reaches its resource, and a change made
    while the second cluster was down and after it came back is not missed."""
    tmp, second = stack["tmp"], stack["second"]
    args = ["-watch", "-node", stack["url"], "-confdir", str(stack["confdir"]), "-log-level", "debug"]
    with ConfpyProcess(*args, log_path=tmp / "confpy.log") as confpy:
        wait_until(lambda: read(tmp / "tls.conf") == "/cert=CERT1\n", what="first render")
        confpy.wait_log("watching 2 prefixes for 2 resources from revision")
        etcd_client.put(f"{etcd_prefix}/config/port", "81")
        second.put(f"{etcd_prefix}/tls/cert", "CERT2")
        stack["data"].write_text("local:\n  mode: prod\n")
        wait_until(lambda: read(tmp / "config.conf") == "/port=81\n", what="global change")
        wait_until(lambda: read(tmp / "tls.conf") == "/cert=CERT2\n", what="second etcd change")
        wait_until(lambda: read(tmp / "local.conf") == "/mode=prod\n", what="file change")
        second_etcd.kill()
        confpy.wait_log(f"watch on {etcd_prefix}/")
        second_etcd.start()
        client = second_etcd.client()
        try:
            for n in range(3, 8):
                client.put(f"{etcd_prefix}/tls/cert", f"CERT{n}")
        finally:
            client.close()
        wait_until(lambda: read(tmp / "tls.conf") == "/cert=CERT7\n", 30, "the change after the restart")
        assert read(tmp / "config.conf") == "/port=81\n"
        confpy.signal(15)
        assert confpy.wait() == 0
    assert f"/tls on backend etcdv3 (nodes {second_etcd.url}) lost" in confpy.log


def test_watch_starts_without_an_unreachable_own_backend_then_renders_it(
    tmp_path: Path, etcd: Any, etcd_client: Any, etcd_prefix: str
) -> None:
    """The other resources render and follow changes; the resource on the backend that is down
    fails in one line, and renders once its backend comes up."""
    later = EtcdServer(tmp_path / "later")
    own = f'backend = "etcdv3"\nnodes = ["{later.url}"]\nconnect_timeout = "1s"\n'
    confdir = make_confdir(
        tmp_path,
        {
            "config.toml": resource(tmp_path / "config.conf", f"{etcd_prefix}/config"),
            "later.toml": resource(tmp_path / "later.conf", f"{etcd_prefix}/later", own),
        },
        {"kv.j2": TEMPLATE},
    )
    etcd_client.put(f"{etcd_prefix}/config/port", "80")
    args = ["-watch", "-node", etcd.url, "-confdir", str(confdir)]
    with ConfpyProcess(*args, log_path=tmp_path / "confpy.log") as confpy:
        wait_until(lambda: read(tmp_path / "config.conf") == "/port=80\n", what="first render")
        confpy.wait_log(f"later.toml: backend etcdv3 (nodes {later.url}): ")
        etcd_client.put(f"{etcd_prefix}/config/port", "81")
        wait_until(lambda: read(tmp_path / "config.conf") == "/port=81\n", what="global change")
        assert not (tmp_path / "later.conf").exists()
        try:
            later.start()
            client = later.client()
            client.put(f"{etcd_prefix}/later/x", "1")
            wait_until(lambda: read(tmp_path / "later.conf") == "/x=1\n", 30, "render once reached")
            client.put(f"{etcd_prefix}/later/x", "2")
            wait_until(lambda: read(tmp_path / "later.conf") == "/x=2\n", what="its watch")
            client.close()
        finally:
            later.stop()
        confpy.signal(15)
        assert confpy.wait() == 0
    errors = [line for line in confpy.log.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "later.toml" in errors[0], confpy.log


def test_an_own_backend_that_hangs_holds_up_no_other_resource(
    tmp_path: Path, etcd: Any, etcd_client: Any, etcd_prefix: str
) -> None:
    """A node that takes the TCP connection and never answers costs its connect timeout: the
    global backend's resource renders and follows changes meanwhile (each own backend is read on
    a thread of its own; they were read one after another, before anything rendered)."""
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(8)  # never accepted: the kernel completes the handshake, nobody speaks HTTP/2
    node = f"http://127.0.0.1:{hung.getsockname()[1]}"
    own = f'backend = "etcdv3"\nnodes = ["{node}"]\nconnect_timeout = "300s"\n'
    confdir = make_confdir(
        tmp_path,
        {
            "config.toml": resource(tmp_path / "config.conf", f"{etcd_prefix}/config"),
            "hung.toml": resource(tmp_path / "hung.conf", f"{etcd_prefix}/hung", own),
        },
        {"kv.j2": TEMPLATE},
    )
    etcd_client.put(f"{etcd_prefix}/config/port", "80")
    args = ["-watch", "-node", etcd.url, "-confdir", str(confdir)]
    try:
        with ConfpyProcess(*args, log_path=tmp_path / "confpy.log") as confpy:
            wait_until(lambda: read(tmp_path / "config.conf") == "/port=80\n", 60, "first render")
            etcd_client.put(f"{etcd_prefix}/config/port", "81")
            wait_until(lambda: read(tmp_path / "config.conf") == "/port=81\n", what="global change")
            assert "hung.toml" not in confpy.log and not (tmp_path / "hung.conf").exists()
            confpy.signal(15)
            assert confpy.wait() == 0
    finally:
        hung.close()


def test_env_backend_is_read_at_start_and_each_interval(
    tmp_path: Path, etcd: Any, etcd_client: Any, etcd_prefix: str
) -> None:
    """The environment cannot change under a running process: rendered from it at start (and
    re-read, to the same values, every -interval), beside the global etcd's watched keys."""
    confdir = make_confdir(
        tmp_path,
        {
            "config.toml": resource(tmp_path / "config.conf", f"{etcd_prefix}/config"),
            "env.toml": resource(tmp_path / "env.conf", "/myapp", 'backend = "env"\n'),
        },
        {"kv.j2": TEMPLATE},
    )
    etcd_client.put(f"{etcd_prefix}/config/port", "80")
    args = ["-watch", "-interval", "1", "-node", etcd.url, "-confdir", str(confdir)]
    env = {"MYAPP_USER": "alice"}
    with ConfpyProcess(*args, log_path=tmp_path / "confpy.log", env=env) as confpy:
        wait_until(lambda: read(tmp_path / "env.conf") == "/user=alice\n", what="env render")
        confpy.wait_log("the env backend cannot watch for changes: re-reading every 1 s instead")
        etcd_client.put(f"{etcd_prefix}/config/port", "81")
        wait_until(lambda: read(tmp_path / "config.conf") == "/port=81\n", what="global change")
        confpy.signal(15)
        assert confpy.wait() == 0


def test_interval_mode_re_reads_every_backend(stack: Any, etcd_client: Any, etcd_prefix: str) -> None:
    tmp, second = stack["tmp"], stack["second"]
    args = ["-interval", "1", "-node", stack["url"], "-confdir", str(stack["confdir"])]
    with ConfpyProcess(*args, log_path=tmp / "confpy.log") as confpy:
        wait_until(lambda: read(tmp / "secrets.conf") == "/db=s3cret\n", what="first render")
        etcd_client.put(f"{etcd_prefix}/config/port", "82")
        second.put(f"{etcd_prefix}/secrets/db", "rotated")
        stack["data"].write_text("local:\n  mode: test\n")
        wait_until(lambda: read(tmp / "config.conf") == "/port=82\n", what="global re-read")
        wait_until(lambda: read(tmp / "secrets.conf") == "/db=rotated\n", what="second etcd re-read")
        wait_until(lambda: read(tmp / "local.conf") == "/mode=test\n", what="file re-read")
        confpy.signal(15)
        assert confpy.wait() == 0


@pytest.mark.parametrize("mode", ["-onetime", "-watch"])
def test_a_global_backend_no_resource_reads_is_never_asked(tmp_path: Path, mode: str) -> None:
    """Every resource has its own backend: the global etcd (none runs at that port) is not needed."""
    data = tmp_path / "a.yaml"
    data.write_text("app:\n  x: 1\n")
    own = f'backend = "file"\nfile = ["{data}"]\n'
    confdir = make_confdir(
        tmp_path, {"a.toml": resource(tmp_path / "a.conf", "/app", own)}, {"kv.j2": TEMPLATE}
    )
    args = [mode, "-node", f"http://127.0.0.1:{free_port()}", "-confdir", str(confdir)]
    with ConfpyProcess(*args, log_path=tmp_path / "confpy.log") as confpy:
        wait_until(lambda: read(tmp_path / "a.conf") == "/x=1\n", what="the render")
        if mode == "-watch":
            data.write_text("app:\n  x: 2\n")
            wait_until(lambda: read(tmp_path / "a.conf") == "/x=2\n", what="the file's change")
            confpy.signal(15)
        assert confpy.wait() == 0
    assert " ERROR " not in confpy.log
    assert "watching 0 prefixes" not in confpy.log  # nor said to be watched


def test_an_own_redis_backend_streams_its_changes(tmp_path: Path, etcd: Any) -> None:
    """A resource's redis is watched by keyspace notifications, as the global one is: a change is
    on disk without an -interval (the default re-read is every 600 s)."""
    with RedisServer(["--notify-keyspace-events", "KA"]) as server:
        server.start()
        rds = redis.Redis(host="127.0.0.1", port=server.port)
        rds.set("/app/x", "1")
        own = f'backend = "redis"\nnodes = ["{server.node}"]\n'
        confdir = make_confdir(
            tmp_path, {"a.toml": resource(tmp_path / "a.conf", "/app", own)}, {"kv.j2": TEMPLATE}
        )
        args = ["-watch", "-node", etcd.url, "-confdir", str(confdir)]
        with ConfpyProcess(*args, log_path=tmp_path / "confpy.log") as confpy:
            wait_until(lambda: read(tmp_path / "a.conf") == "/x=1\n", what="the render")
            confpy.wait_log(
                f"watching 1 prefixes for 1 resources from revision 1 of redis (nodes {server.node})"
            )
            rds.set("/app/x", "2")
            wait_until(lambda: read(tmp_path / "a.conf") == "/x=2\n", what="the streamed change")
            confpy.signal(15)
            assert confpy.wait() == 0
        rds.close()
