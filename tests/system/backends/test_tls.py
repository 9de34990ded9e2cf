"""confpy over TLS, as a user runs it: a real etcd with `--client-cert-auth`, certificates made here.

A certificate problem is never retried (retrying cannot cure it): each run below is bounded well
under `-connect-timeout`, so a test also fails if confpy sits in a retry loop instead of explaining.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.certs import CertSet, make_authority, make_cert_set
from tests.support.etcd_server import EtcdServer
from tests.support.helpers import ConfpyProcess, make_confdir, run_confpy, wait_until

# Long enough that a retry loop would outlast the subprocess timeout of the failing runs.
SLOW_RETRIES = ("-connect-timeout", "60s")
FAILURE_BOUND = 30.0

TOML = '[template]\nsrc = "db.j2"\ndest = "{dest}"\nprefix = "{prefix}"\nkeys = ["/db"]\n'
TEMPLATE = 'host = {{ getv("/db/host") }}\n'


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> CertSet:
    """CA, server certificate, and a client certificate whose CN is etcd's `root` user."""
    return make_cert_set(tmp_path_factory.mktemp("pki"), client_cn="root")


def ctl_flags(pki: CertSet, cert: Path | None = None, key: Path | None = None) -> list[str]:
    return ["--cacert", str(pki.ca.cert), "--cert", str(cert or pki.client_cert),
            "--key", str(key or pki.client_key)]  # fmt: skip


def tls_server(workdir: Path, pki: CertSet) -> EtcdServer:
    return EtcdServer(workdir, extra_args=pki.etcd_args(), scheme="https", health_ssl=pki.client_context())


@pytest.fixture(scope="module")
def tls_etcd(tmp_path_factory: pytest.TempPathFactory, pki: CertSet) -> Iterator[EtcdServer]:
    server = tls_server(tmp_path_factory.mktemp("tls-etcd"), pki)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def confdir_for(tmp: Path, prefix: str) -> tuple[Path, Path]:
    dest = tmp / "db.conf"
    toml = TOML.format(dest=dest, prefix=prefix)
    return make_confdir(tmp, {"db.toml": toml}, {"db.j2": TEMPLATE}), dest


def tls_args(pki: CertSet) -> list[str]:
    return ["-client-cert", str(pki.client_cert), "-client-key", str(pki.client_key),
            "-client-ca-keys", str(pki.ca.cert)]  # fmt: skip


@pytest.mark.parametrize("how", ["flags", "confd variables", "confd.toml"])
def test_onetime_over_tls_with_a_client_certificate(
    tmp_path: Path, tls_etcd: EtcdServer, pki: CertSet, etcd_prefix: str, how: str, transport: list[str]
) -> None:
    tls_etcd.etcdctl("put", f"{etcd_prefix}/db/host", "10.0.0.5", flags=ctl_flags(pki))
    confdir, dest = confdir_for(tmp_path, etcd_prefix)
    args, env = ["-onetime", *transport, "-confdir", str(confdir), *SLOW_RETRIES], {}
    if how == "flags":
        args += ["-node", tls_etcd.url, *tls_args(pki)]
    elif how == "confd variables":
        # confd's own variable names, and a node without a scheme: https because TLS files are set.
        args += ["-node", tls_etcd.endpoint]
        env = {"CONFD_CLIENT_CERT": str(pki.client_cert), "CONFD_CLIENT_KEY": str(pki.client_key),
               "CONFD_CLIENT_CAKEYS": str(pki.ca.cert)}  # fmt: skip
    else:
        (confdir / "confd.toml").write_text(
            f'nodes = ["{tls_etcd.url}"]\nclient_cert = "{pki.client_cert}"\n'
            f'client_key = "{pki.client_key}"\nclient_cakeys = "{pki.ca.cert}"\n'
        )
    result = run_confpy(*args, env=env, timeout=FAILURE_BOUND)
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "host = 10.0.0.5\n"


def test_a_wrong_ca_is_a_clear_error_at_once(
    tmp_path: Path, tls_etcd: EtcdServer, pki: CertSet, etcd_prefix: str, transport: list[str]
) -> None:
    other = make_authority(tmp_path / "other")
    confdir, dest = confdir_for(tmp_path, etcd_prefix)
    result = run_confpy(
        "-onetime", *transport, "-confdir", str(confdir), "-node", tls_etcd.url, *SLOW_RETRIES,
        "-client-cert", str(pki.client_cert), "-client-key", str(pki.client_key),
        "-client-ca-keys", str(other.cert),
        timeout=FAILURE_BOUND,
    )  # fmt: skip
    assert result.returncode == 2  # a configuration error (EndpointError); it was 1
    assert f"TLS with etcd at {tls_etcd.url} failed" in result.stderr
    assert f"etcd's certificate is not signed by the CA in {other.cert} (-client-ca-keys)" in result.stderr
    assert not dest.exists()


@pytest.mark.parametrize("client", ["none", "from another CA"])
def test_a_missing_or_foreign_client_certificate_is_a_clear_error_at_once(
    tmp_path: Path, tls_etcd: EtcdServer, pki: CertSet, etcd_prefix: str, client: str, transport: list[str]
) -> None:
    confdir, dest = confdir_for(tmp_path, etcd_prefix)
    args = ["-onetime", *transport, "-confdir", str(confdir), "-node", tls_etcd.url, *SLOW_RETRIES,
            "-client-ca-keys", str(pki.ca.cert)]  # fmt: skip
    if client != "none":
        cert, key = make_authority(tmp_path / "other").issue("client", "root")
        args += ["-client-cert", str(cert), "-client-key", str(key)]
    result = run_confpy(*args, timeout=FAILURE_BOUND)
    assert result.returncode == 2  # a configuration error (EndpointError); it was 1
    assert "etcd refused the connection: it wants a client certificate (-client-cert, -client-key)" in (
        result.stderr
    )
    assert not dest.exists()


def test_an_https_node_that_speaks_plain_http_is_a_clear_error(
    tmp_path: Path, etcd: EtcdServer, pki: CertSet, etcd_prefix: str, transport: list[str]
) -> None:
    confdir, _dest = confdir_for(tmp_path, etcd_prefix)
    result = run_confpy(
        "-onetime", *transport, "-confdir", str(confdir), "-node", f"https://{etcd.endpoint}", *SLOW_RETRIES,
        "-client-ca-keys", str(pki.ca.cert),
        timeout=FAILURE_BOUND,
    )  # fmt: skip
    assert result.returncode == 2  # a configuration error (EndpointError); it was 1
    assert "no TLS answer (is the endpoint http://?)" in result.stderr


def test_tls_files_with_an_http_node_warn_that_they_are_unused(
    tmp_path: Path, etcd: EtcdServer, etcd_client: Any, pki: CertSet, etcd_prefix: str, transport: list[str]
) -> None:
    etcd_client.put(f"{etcd_prefix}/db/host", "10.0.0.9")
    confdir, dest = confdir_for(tmp_path, etcd_prefix)
    result = run_confpy(
        "-onetime", *transport, "-confdir", str(confdir), "-node", etcd.url,
        "-client-ca-keys", str(pki.ca.cert),
        timeout=FAILURE_BOUND,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "host = 10.0.0.9\n"
    assert f"etcd node {etcd.url} is http://: TLS files are not used for it (write https://)" in result.stderr


def test_watch_over_tls_follows_puts(
    tmp_path: Path, tls_etcd: EtcdServer, pki: CertSet, etcd_prefix: str, transport: list[str]
) -> None:
    tls_etcd.etcdctl("put", f"{etcd_prefix}/db/host", "10.0.0.1", flags=ctl_flags(pki))
    confdir, dest = confdir_for(tmp_path, etcd_prefix)
    args = ["-watch", *transport, "-confdir", str(confdir), "-node", tls_etcd.url, *tls_args(pki)]
    with ConfpyProcess(*args, log_path=tmp_path / "confpy.log") as proc:
        wait_until(lambda: dest.exists() and dest.read_text() == "host = 10.0.0.1\n", what="first render")
        tls_etcd.etcdctl("put", f"{etcd_prefix}/db/host", "10.0.0.2", flags=ctl_flags(pki))
        wait_until(lambda: dest.read_text() == "host = 10.0.0.2\n", what="the put in the file")
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0, proc.log


@pytest.fixture(scope="module")
def rbac_etcd(tmp_path_factory: pytest.TempPathFactory, pki: CertSet) -> Iterator[EtcdServer]:
    """TLS with auth on: the user is the client certificate's CN; `app` may read only /app/."""
    server = tls_server(tmp_path_factory.mktemp("rbac-etcd"), pki)
    try:
        server.start()
        root = ctl_flags(pki)
        for command in (["user", "add", "root:rootpw"], ["role", "add", "app"],
                        ["role", "grant-permission", "--prefix=true", "app", "read", "/app/"],
                        ["user", "add", "app:unused-password"], ["user", "grant-role", "app", "app"],
                        ["auth", "enable"], ["put", "/app/db/host", "10.1.0.1"],
                        ["put", "/other/db/host", "10.2.0.1"]):  # fmt: skip
            server.etcdctl(*command, flags=root)
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("prefix", ["/app", "/other"])
def test_client_certificate_auth_reads_only_what_its_role_allows(
    tmp_path: Path, rbac_etcd: EtcdServer, pki: CertSet, prefix: str, transport: list[str]
) -> None:
    cert, key = pki.ca.issue("app", "app")
    confdir, dest = confdir_for(tmp_path, prefix)
    result = run_confpy(
        "-onetime", *transport, "-confdir", str(confdir), "-node", rbac_etcd.url, *SLOW_RETRIES,
        "-client-cert", str(cert), "-client-key", str(key), "-client-ca-keys", str(pki.ca.cert),
        timeout=FAILURE_BOUND,
    )  # fmt: skip
    if "http" in transport:  # etcd's gateway refuses requests whose certificate would name the user
        assert result.returncode == 2, result.stderr
        assert "does not take the client certificate's CN as the user on its JSON gateway" in result.stderr
        assert not dest.exists()
    elif prefix == "/app":
        assert result.returncode == 0, result.stderr
        assert dest.read_text() == "host = 10.1.0.1\n"
    else:
        assert result.returncode == 1
        assert (
            f"etcd at {rbac_etcd.url} denied the read of /other/db to the user in the client "
            "certificate's CN: etcdserver: permission denied"
        ) in result.stderr
        assert not dest.exists()
