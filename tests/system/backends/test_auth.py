"""etcd user/password auth against a real etcd: roles limit confpy to its prefix, and confpy logs
in again, without anyone noticing, whenever etcd forgets its token.

etcd's simple tokens expire after `--auth-token-ttl` idle seconds (1 here, 300 by default) and are
lost when etcd restarts; a watch created with a lost token is answered "created" and "cancelled"
at once, so it looks alive and never delivers. Every test checks that confpy really logged in again
(its debug line `logging in to etcd as user ...`), so none passes without exercising the expiry.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from confpy.backends.base import Backend, Event, LeaseBackend, Snapshot
from confpy.backends.etcd.backend import EtcdBackend
from confpy.backends.etcd.gateway_backend import GatewayBackend
from confpy.errors import BackendError
from tests.support.certs import make_jwt_keys
from tests.support.etcd_server import EtcdServer
from tests.support.helpers import ConfpyProcess, make_confdir, run_confpy, wait_until
from tests.support.tcp_proxy import TcpProxy

PASSWORD = "pw-Zq8-correct-horse"
ROOT = ["--user", "root:rootpw"]
TOKEN_TTL = 1
# etcd drops expired simple tokens on a one-second tick: after this long idle, a token is gone.
EXPIRED = TOKEN_TTL + 1.5
LOGIN = "logging in to etcd as user 'app'"
FAILURE_BOUND = 30.0

TOML = '[template]\nsrc = "db.j2"\ndest = "{dest}"\nprefix = "{prefix}"\nkeys = ["/db"]\n'
TEMPLATE = 'host = {{ getv("/db/host") }}\n'


def auth_server(workdir: Path, *extra: str) -> EtcdServer:
    """Auth on; user `app` (PASSWORD) may only read /app/, and write /app/leases/ (its keys on
    leases); `root` (rootpw) may do anything."""
    server = EtcdServer(workdir, extra_args=["--auth-token-ttl", str(TOKEN_TTL), *extra])
    server.start()
    for command in (["user", "add", "root:rootpw"], ["role", "add", "app"],
                    ["role", "grant-permission", "--prefix=true", "app", "read", "/app/"],
                    ["role", "grant-permission", "--prefix=true", "app", "readwrite", "/app/leases/"],
                    ["user", "add", f"app:{PASSWORD}"], ["user", "grant-role", "app", "app"],
                    ["auth", "enable"]):  # fmt: skip
        server.etcdctl(*command)
    return server


@pytest.fixture(scope="module")
def auth_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    server = auth_server(tmp_path_factory.mktemp("auth-etcd"))
    try:
        server.etcdctl("put", "/app/db/host", "10.1.0.1", flags=ROOT)
        server.etcdctl("put", "/other/db/host", "10.2.0.1", flags=ROOT)
        yield server
    finally:
        server.stop()


def confdir_for(tmp: Path, prefix: str) -> tuple[Path, Path]:
    dest = tmp / "db.conf"
    return make_confdir(tmp, {"db.toml": TOML.format(dest=dest, prefix=prefix)}, {"db.j2": TEMPLATE}), dest


def read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


@pytest.mark.parametrize("how", ["flags", "CONFPY variables", "confd.toml"])
def test_onetime_with_a_password_reads_its_prefix(
    tmp_path: Path, auth_etcd: EtcdServer, how: str, transport: list[str]
) -> None:
    confdir, dest = confdir_for(tmp_path, "/app")
    args = ["-onetime", *transport, "-confdir", str(confdir), "-node", auth_etcd.url, "-log-level", "debug"]
    env = {}
    if how == "flags":
        args += ["-username", "app", "-password", PASSWORD]
    elif how == "CONFPY variables":
        env = {"CONFPY_USERNAME": "app", "CONFPY_PASSWORD": PASSWORD}
    else:
        (confdir / "confd.toml").write_text(f'username = "app"\npassword = "{PASSWORD}"\n')
    result = run_confpy(*args, env=env, timeout=FAILURE_BOUND)
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "host = 10.1.0.1\n"
    assert LOGIN in result.stderr
    assert PASSWORD not in result.stderr + result.stdout


def test_a_prefix_outside_the_role_is_a_clear_permission_error(
    tmp_path: Path, auth_etcd: EtcdServer, transport: list[str]
) -> None:
    confdir, dest = confdir_for(tmp_path, "/other")
    result = run_confpy(
        "-onetime", *transport, "-confdir", str(confdir), "-node", auth_etcd.url, "-username", "app",
        "-password", PASSWORD, "-connect-timeout", "60s",
        timeout=FAILURE_BOUND,
    )  # fmt: skip
    assert result.returncode == 1
    assert (
        f"etcd at {auth_etcd.url} denied the read of /other/db to user 'app': etcdserver: permission denied"
    ) in result.stderr
    assert not dest.exists()


def test_a_wrong_password_is_a_clear_error_that_does_not_show_it(
    tmp_path: Path, auth_etcd: EtcdServer, transport: list[str]
) -> None:
    confdir, dest = confdir_for(tmp_path, "/app")
    wrong = "pw-wrong-Kx71"
    result = run_confpy(
        "-onetime", *transport, "-confdir", str(confdir), "-node", auth_etcd.url, "-username", "app",
        "-password", wrong, "-connect-timeout", "60s", "-log-level", "debug",
        timeout=FAILURE_BOUND,
    )  # fmt: skip
    assert result.returncode == 2  # a configuration error (EndpointError); it was 1
    assert f"etcd at {auth_etcd.url} rejected user 'app': etcdserver: authentication failed" in result.stderr
    assert wrong not in result.stderr + result.stdout
    assert not dest.exists()


def test_a_wrong_password_at_the_start_of_watch_mode_exits_2(tmp_path: Path, auth_etcd: EtcdServer) -> None:
    # It was logged and retried forever: a password that is wrong now stays wrong.
    confdir, dest = confdir_for(tmp_path, "/app")
    result = run_confpy(
        "-watch", "-confdir", str(confdir), "-node", auth_etcd.url, "-username", "app",
        "-password", "pw-wrong-Kx71", "-connect-timeout", "60s",
        timeout=FAILURE_BOUND,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and f"etcd at {auth_etcd.url} rejected user 'app'" in errors[0], result.stderr
    assert not dest.exists()


def test_a_wrong_password_after_a_reload_is_retried(tmp_path: Path, auth_etcd: EtcdServer) -> None:
    # Once confpy has run with etcd, a rejected login is retried as any backend error is: the
    # password may be changing in etcd and in confd.toml one after the other.
    confdir, dest = confdir_for(tmp_path, "/app")
    (confdir / "confd.toml").write_text(f'username = "app"\npassword = "{PASSWORD}"\n')
    args = ("-watch", "-confdir", str(confdir), "-node", auth_etcd.url, "-connect-timeout", "2s")
    with ConfpyProcess(*args, log_path=tmp_path / "log") as proc:
        wait_until(lambda: read(dest) == "host = 10.1.0.1\n", FAILURE_BOUND, "first render")
        (confdir / "confd.toml").write_text('username = "app"\npassword = "pw-wrong-Kx71"\n')
        proc.signal(signal.SIGHUP)
        wait_until(lambda: proc.log.count("rejected user 'app'") >= 2, FAILURE_BOUND, "two retries")
        assert proc.proc.poll() is None, proc.log
        (confdir / "confd.toml").write_text(f'username = "app"\npassword = "{PASSWORD}"\n')
        proc.signal(signal.SIGHUP)
        proc.wait_log("reloading confd.toml", FAILURE_BOUND)
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0, proc.log


@contextlib.contextmanager
def logins() -> Iterator[list[str]]:
    """confpy's `logging in` debug lines while the block runs (in this process)."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage() == LOGIN:
                lines.append(record.getMessage())

    logger = logging.getLogger("confpy")
    handler, level = Collect(logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.mark.parametrize("backend_class", [EtcdBackend, GatewayBackend])
def test_the_backend_logs_in_again_when_its_token_expired(
    auth_etcd: EtcdServer, backend_class: type[EtcdBackend | GatewayBackend]
) -> None:
    inbox: queue.Queue[list[Event] | BackendError] = queue.Queue()
    threads = threading.active_count()
    with logins() as lines, backend_class([auth_etcd.url], username="app", password=PASSWORD) as backend:
        revision = backend.read(["/app/"]).revision
        time.sleep(EXPIRED)
        # etcd would answer this watch "created" and "cancelled" at once: it must not look alive.
        watch = backend.watch("/app/", revision + 1, inbox.put)
        auth_etcd.etcdctl("put", "/app/db/port", "5432", flags=ROOT)
        item = inbox.get(timeout=10)
        assert not isinstance(item, BackendError), item
        assert [(e.key, e.value) for e in item] == [("/app/db/port", "5432")]
        watch.cancel()
        time.sleep(EXPIRED)
        assert backend.read(["/app/db/port"]).values == {"/app/db/port": "5432"}
    assert len(lines) == 3
    # The stream etcd cancelled was ended too, not left with a thread waiting on it forever.
    wait_until(lambda: threading.active_count() <= threads, timeout=5, what="the watch threads gone")


@pytest.mark.parametrize("backend_class", [EtcdBackend, GatewayBackend])
def test_reads_log_in_again_when_the_token_expired(
    auth_etcd: EtcdServer, backend_class: type[Backend]
) -> None:
    with logins() as lines, backend_class([auth_etcd.url], username="app", password=PASSWORD) as backend:  # type: ignore[call-arg]
        assert backend.read(["/app/db/host"]).values == {"/app/db/host": "10.1.0.1"}
        time.sleep(EXPIRED)
        assert backend.read(["/app/db/host"]).values == {"/app/db/host": "10.1.0.1"}
    assert len(lines) == 2


@pytest.mark.parametrize("backend_class", [EtcdBackend, GatewayBackend])
def test_lease_calls_log_in_again_when_the_token_expired(
    auth_etcd: EtcdServer, backend_class: type[LeaseBackend]
) -> None:
    key = f"/app/leases/{backend_class.__name__}"
    with logins() as lines, backend_class([auth_etcd.url], username="app", password=PASSWORD) as backend:  # type: ignore[call-arg]
        lease, _ = backend.grant_lease(30)
        time.sleep(EXPIRED)
        revision = backend.put_on_lease({key: "v"}, lease)
        assert backend.read([key]) == Snapshot({key: "v"}, revision)
        time.sleep(EXPIRED)
        assert 28 <= backend.keep_alive(lease) <= 30  # etcd does not check a keep-alive's token
        assert len(lines) == 2
        assert backend.revoke_lease(lease) is True
        assert backend.read([key]).values == {}
    assert len(lines) == 3


def test_a_jwt_from_before_a_change_to_users_or_roles_is_replaced(tmp_path: Path) -> None:
    # JWTs carry the auth revision they were issued at; etcd refuses them once users or roles
    # change ("revision of auth store is old"), unlike simple tokens.
    private, public = make_jwt_keys(tmp_path / "jwt")
    jwt = f"jwt,pub-key={public},priv-key={private},sign-method=ES256"
    with (
        auth_server(tmp_path / "etcd", "--auth-token", jwt) as server,
        logins() as lines,
        EtcdBackend([server.url], username="app", password=PASSWORD) as backend,
    ):
        server.etcdctl("put", "/app/db/host", "10.1.0.1", flags=ROOT)
        assert backend.read(["/app/"]).values == {"/app/db/host": "10.1.0.1"}
        server.etcdctl("user", "add", "someone-else:pw", flags=ROOT)
        assert backend.read(["/app/"]).values == {"/app/db/host": "10.1.0.1"}
    assert len(lines) == 2


def test_watch_mode_survives_token_expiry_and_a_broken_stream(
    tmp_path: Path, auth_etcd: EtcdServer, etcd_prefix: str
) -> None:
    prefix = f"/app{etcd_prefix}"
    auth_etcd.etcdctl("put", f"{prefix}/db/host", "10.1.0.1", flags=ROOT)
    confdir, dest = confdir_for(tmp_path, prefix)
    proxy = TcpProxy("127.0.0.1", auth_etcd.client_port)
    args = ["-watch", "-confdir", str(confdir), "-node", proxy.url, "-log-level", "debug",
            "-username", "app", "-password", PASSWORD]  # fmt: skip
    try:
        with ConfpyProcess(*args, log_path=tmp_path / "confpy.log") as proc:
            wait_until(lambda: read(dest) == "host = 10.1.0.1\n", what="first render")
            time.sleep(EXPIRED)
            proxy.cut()  # the watch breaks while its token is gone: the new one needs a new login
            time.sleep(0.2)
            proxy.restore()
            proc.wait_log("resumed from revision")
            auth_etcd.etcdctl("put", f"{prefix}/db/host", "10.1.0.2", flags=ROOT)
            wait_until(lambda: read(dest) == "host = 10.1.0.2\n", what="the put in the file")
            assert proc.log.count(LOGIN) == 2, proc.log
            assert PASSWORD not in proc.log
            proc.signal(signal.SIGTERM)
            assert proc.wait() == 0, proc.log
    finally:
        proxy.close()


def test_watch_mode_survives_an_etcd_restart_that_forgets_the_token(tmp_path: Path) -> None:
    # A snapshot after every entry: on restart etcd replays no login, so every token is gone.
    with auth_server(tmp_path / "etcd", "--snapshot-count", "1") as server:
        server.etcdctl("put", "/app/db/host", "10.1.0.1", flags=ROOT)
        confdir, dest = confdir_for(tmp_path, "/app")
        args = ["-watch", "-confdir", str(confdir), "-node", server.url, "-log-level", "debug",
                "-username", "app", "-password", PASSWORD]  # fmt: skip
        with ConfpyProcess(*args, log_path=tmp_path / "confpy.log") as proc:
            wait_until(lambda: read(dest) == "host = 10.1.0.1\n", what="first render")
            for i in range(3):  # entries after confpy's login, so that a snapshot covers it
                server.etcdctl("put", f"/other/{i}", "x", flags=ROOT)
            server.kill()
            server.start()
            proc.wait_log("resumed from revision")
            server.etcdctl("put", "/app/db/host", "10.1.0.2", flags=ROOT)
            wait_until(lambda: read(dest) == "host = 10.1.0.2\n", what="the put in the file")
            assert proc.log.count(LOGIN) == 2, proc.log
            proc.signal(signal.SIGTERM)
            assert proc.wait() == 0, proc.log
