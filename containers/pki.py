"""The sample stack's etcd certificates, made with the `openssl` CLI: one CA, a server and a peer
certificate for the etcd members, and one client certificate per role.

etcd authenticates a client by its certificate's CN (`--client-cert-auth`), so each role's CN is
its etcd user name, and the roles' permissions (deploy/kubernetes/etcd-auth.yaml) say which
prefixes it may read and which keys it may write. Used by deploy/kubernetes/generate.py; standard
library only, so it runs wherever python3 and openssl do.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ROLES", "Pki", "make_pki"]

#: Every etcd user of the stack: `root` configures authentication, the others are the services.
ROLES = ("root", "elk", "logstash", "sinatra", "nginx", "test-client")
_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
_DAYS = "825"


def _openssl(directory: Path, *args: str) -> None:
    result = subprocess.run(["openssl", *args], cwd=directory, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.strip().splitlines()[-1:]}")


@dataclass(frozen=True)
class Pki:
    """Paths of the files made: `ca`, and (cert, key) pairs by name ("server", "peer", each role)."""

    ca: Path
    pairs: dict[str, tuple[Path, Path]]


def _issue(directory: Path, name: str, cn: str, sans: Iterable[str], usage: str) -> tuple[Path, Path]:
    cert, key, csr, ext = (directory / f"{name}.{suffix}" for suffix in ("crt", "key", "csr", "ext"))
    lines = [f"extendedKeyUsage = {usage}"]
    if sans:
        lines.append("subjectAltName = " + ",".join(sans))
    ext.write_text("\n".join(lines) + "\n")
    _openssl(directory, "req", *_KEY, "-subj", f"/CN={cn}", "-keyout", key.name, "-out", csr.name)
    _openssl(
        directory, "x509", "-req", "-in", csr.name, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", _DAYS, "-extfile", ext.name, "-out", cert.name,
    )  # fmt: skip
    csr.unlink()
    ext.unlink()
    return cert, key


def make_pki(directory: Path, etcd_names: Iterable[str], roles: Iterable[str] = ROLES) -> Pki:
    """A CA in `directory`, etcd's server and peer pairs valid for `etcd_names`, a client pair per role."""
    _openssl(directory, "req", "-x509", *_KEY, "-subj", "/CN=confpy-demo etcd CA", "-days", _DAYS,
             "-keyout", "ca.key", "-out", "ca.crt")  # fmt: skip
    sans = [f"DNS:{name}" for name in etcd_names] + ["IP:127.0.0.1"]
    # etcd dials its peers and its own gateway with these, so each is a client certificate too.
    pairs = {
        "server": _issue(directory, "server", "etcd", sans, "serverAuth,clientAuth"),
        "peer": _issue(directory, "peer", "etcd-peer", sans, "serverAuth,clientAuth"),
    }
    for role in roles:
        pairs[role] = _issue(directory, role, role, (), "clientAuth")
    return Pki(directory / "ca.crt", pairs)
