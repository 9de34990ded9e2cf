"""`confpy register` against real etcd servers: the lease, a clean stop, a crash, and lost leases."""

from __future__ import annotations

import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from confpy.backends.base import LeaseBackend
from confpy.backends.etcd.backend import EtcdBackend
from confpy.backends.etcd.gateway_backend import GatewayBackend
from confpy.errors import BackendError, ConfigError
from confpy.sidecar.register import Registration, parse_entry, parse_ttl
from tests.support.etcd_server import EtcdServer
from tests.support.helpers import ConfpyProcess, run_confpy, wait_until
from tests.support.tcp_proxy import TcpProxy


def register(
    tmp: Path, url: str, key: str, value: str, ttl: str = "3", transport: Sequence[str] = ()
) -> ConfpyProcess:
    args = ("register", "-node", url, key, value, "-ttl", ttl, "-log-level", "debug", *transport)
    return ConfpyProcess(*args, log_path=tmp / "register.log")


def lease_of(client: Any, key: str) -> int | None:
    """The lease the key is on (0: none), or None when the key does not exist."""
    value, meta = client.get(key)
    return None if value is None else int(meta.lease_id)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_key_lives_on_a_lease_and_goes_on_a_signal(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any, signum: int, transport: list[str]
) -> None:
    key = f"{etcd_prefix}/web/10.0.0.5"
    with register(tmp_path, etcd.url, key, "10.0.0.5:80", ttl="15s", transport=transport) as proc:
        wait_until(lambda: lease_of(etcd_client, key) is not None, what="registration")
        assert etcd_client.get(key)[0] == b"10.0.0.5:80"
        lease = lease_of(etcd_client, key)
        assert lease
        assert 10 <= etcd_client.get_lease_info(lease).TTL <= 15
        proc.signal(signum)
        assert proc.wait() == 0
        assert "deregistered" in proc.log
    assert lease_of(etcd_client, key) is None
    assert etcd_client.get_lease_info(lease).TTL == -1  # revoked, not left to expire


def test_keep_alive_outlives_the_ttl_and_a_crash_does_not(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any, transport: list[str]
) -> None:
    key = f"{etcd_prefix}/k"
    with register(tmp_path, etcd.url, key, "v", ttl="2", transport=transport) as proc:
        wait_until(lambda: lease_of(etcd_client, key) is not None)
        lease = lease_of(etcd_client, key)
        time.sleep(5)  # well past the TTL: only the refreshes keep it
        assert lease_of(etcd_client, key) == lease
        proc.proc.kill()
        proc.wait()
        assert lease_of(etcd_client, key) == lease  # a crash leaves the key for up to a TTL...
        wait_until(lambda: lease_of(etcd_client, key) is None, timeout=10, what="lease expiry")


def test_revoked_lease_is_replaced_and_the_key_put_again(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any, transport: list[str]
) -> None:
    key = f"{etcd_prefix}/k"
    with register(tmp_path, etcd.url, key, "v", ttl="3", transport=transport) as proc:
        wait_until(lambda: lease_of(etcd_client, key) is not None)
        first = lease_of(etcd_client, key)
        etcd_client.revoke_lease(first)
        assert lease_of(etcd_client, key) is None
        wait_until(
            lambda: lease_of(etcd_client, key) not in (None, first), timeout=10, what="re-registration"
        )
        assert "has expired or was revoked; registering again" in proc.log
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0
    assert lease_of(etcd_client, key) is None


def test_partition_longer_than_the_ttl(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any, transport: list[str]
) -> None:
    key = f"{etcd_prefix}/k"
    proxy = TcpProxy("127.0.0.1", etcd.client_port)
    try:
        with register(tmp_path, proxy.url, key, "v", ttl="2", transport=transport) as proc:
            wait_until(lambda: lease_of(etcd_client, key) is not None)
            first = lease_of(etcd_client, key)
            proxy.cut()
            wait_until(lambda: lease_of(etcd_client, key) is None, timeout=10, what="expiry while cut off")
            proc.wait_log("cannot keep", timeout=15)
            proxy.restore()
            wait_until(lambda: lease_of(etcd_client, key) not in (None, first), timeout=20, what="recovery")
            proc.signal(signal.SIGTERM)
            assert proc.wait() == 0
    finally:
        proxy.close()
    assert lease_of(etcd_client, key) is None


def test_etcd_restart_that_outlives_the_ttl(
    tmp_path: Path, fresh_etcd: EtcdServer, etcd_prefix: str, transport: list[str]
) -> None:
    key = f"{etcd_prefix}/k"
    client = fresh_etcd.client()
    try:
        with register(tmp_path, fresh_etcd.url, key, "v", ttl="2", transport=transport) as proc:
            wait_until(lambda: lease_of(client, key) is not None)
            fresh_etcd.stop()
            proc.wait_log("cannot keep", timeout=20)
            time.sleep(3)  # down for longer than the TTL
            fresh_etcd.start()
            # etcd restores leases on restart and extends them; the refreshes must pick up again.
            wait_until(lambda: lease_of(client, key) is not None, timeout=20, what="key after restart")
            lease = lease_of(client, key)
            assert lease
            time.sleep(5)  # past several TTLs: still refreshed
            assert lease_of(client, key) is not None
            # Force the loss that a restart alone does not cause: the key must come back.
            client.revoke_lease(lease_of(client, key))
            wait_until(lambda: lease_of(client, key) is not None, timeout=10, what="re-registration")
            assert proc.proc.poll() is None
            proc.signal(signal.SIGTERM)
            assert proc.wait() == 0
        assert lease_of(client, key) is None
    finally:
        client.close()


@pytest.mark.parametrize("backend_class", [EtcdBackend, GatewayBackend])
def test_registration_object_shares_one_lease(
    etcd: EtcdServer, etcd_prefix: str, etcd_client: Any, backend_class: type[LeaseBackend]
) -> None:
    entries = {f"{etcd_prefix}/a": "1", f"{etcd_prefix}/b": "2"}
    with backend_class([etcd.url]) as backend:  # type: ignore[call-arg]
        registration = Registration(backend, entries, ttl=5)
        registration.start()
        assert registration.registered.wait(10)
        leases = {lease_of(etcd_client, k) for k in entries}
        assert leases == {registration.lease}
        assert registration.stop() is True
    assert all(lease_of(etcd_client, k) is None for k in entries)


@pytest.mark.parametrize("backend_class", [EtcdBackend, GatewayBackend])
def test_lease_api_of_the_etcd_backend(
    etcd: EtcdServer, etcd_prefix: str, etcd_client: Any, backend_class: type[LeaseBackend]
) -> None:
    with backend_class([etcd.url]) as backend:  # type: ignore[call-arg]
        assert backend.grant_lease(1)[1] == 2  # etcd's minimum TTL
        lease, granted = backend.grant_lease(30)
        assert granted == 30
        revision = backend.put_on_lease({f"{etcd_prefix}/a": "1", f"{etcd_prefix}/b": "2"}, lease)
        assert backend.read([etcd_prefix]).revision == revision
        assert {lease_of(etcd_client, f"{etcd_prefix}/{k}") for k in "ab"} == {lease}
        assert 29 <= backend.keep_alive(lease) <= 30
        assert backend.revoke_lease(lease) is True
        assert backend.read([etcd_prefix]).values == {}
        assert backend.keep_alive(lease) == 0  # a lost lease is TTL 0, not an error
        assert backend.revoke_lease(lease) is False
        with pytest.raises(BackendError, match="lease not found"):
            backend.put_on_lease({f"{etcd_prefix}/a": "1"}, lease)


def test_refuses_other_backends_and_bad_ttls(tmp_path: Path) -> None:
    result = run_confpy("register", "-backend", "env", "/k", "v", "-confdir", str(tmp_path))
    assert result.returncode == 2
    assert "needs the etcd backend" in result.stderr
    result = run_confpy("register", "/k", "v", "-ttl", "soon", "-confdir", str(tmp_path))
    assert result.returncode == 2
    assert "-ttl" in result.stderr


def test_parse_entry_and_ttl() -> None:
    assert parse_entry("/svc/web=10.0.0.5:80") == ("/svc/web", "10.0.0.5:80")
    assert parse_entry("/k=a=b") == ("/k", "a=b")
    assert parse_entry("/k=") == ("/k", "")
    for bad in ("/k", "=v"):
        with pytest.raises(ConfigError, match="KEY=VALUE"):
            parse_entry(bad)
    assert parse_ttl("15") == 15
    assert parse_ttl("1m") == 60
    assert parse_ttl("1.2s") == 2
    with pytest.raises(ConfigError, match="-ttl"):
        parse_ttl("0")
