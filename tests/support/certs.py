"""Throwaway certificates for TLS tests, made with the `openssl` CLI (always installed, unlike
the `cryptography` package): a CA, a server certificate for 127.0.0.1, and client certificates.

EC P-256 keys: generating them takes milliseconds, so every test module can have its own CA.
"""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Authority", "CertSet", "make_authority", "make_cert_set", "make_jwt_keys"]

_DAYS = "2"
_KEY_ARGS = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=30, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{result.stderr}")


@dataclass(frozen=True)
class Authority:
    """A CA that signs leaf certificates: `issue(name, cn)` gives (cert, key) paths."""

    directory: Path
    cert: Path
    key: Path

    def issue(self, name: str, cn: str, *, server: bool = False) -> tuple[Path, Path]:
        """A leaf certificate for `cn`; a server one also names 127.0.0.1 and localhost.

        Every leaf may act as a client too: etcd 3.4's own gateway dials the server with the
        server's certificate, which `--client-cert-auth` then checks.
        """
        cert, key, csr = (self.directory / f"{name}.{ext}" for ext in ("crt", "key", "csr"))
        ext = self.directory / f"{name}.ext"
        lines = [
            "basicConstraints = critical,CA:FALSE",
            "keyUsage = critical,digitalSignature,keyEncipherment",
            f"extendedKeyUsage = {'serverAuth,' if server else ''}clientAuth",
        ]
        if server:
            lines.append("subjectAltName = IP:127.0.0.1,DNS:localhost")
        ext.write_text("\n".join(lines) + "\n")
        _openssl("req", "-new", *_KEY_ARGS, "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={cn}",
                 cwd=self.directory)  # fmt: skip
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey", str(self.key),
                 "-CAcreateserial", "-days", _DAYS, "-extfile", str(ext), "-out", str(cert),
                 cwd=self.directory)  # fmt: skip
        return cert, key


def make_authority(directory: Path, name: str = "ca") -> Authority:
    """A new self-signed CA in `directory` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    _openssl("req", "-x509", "-new", *_KEY_ARGS, "-keyout", str(key), "-out", str(cert), "-days", _DAYS,
             "-subj", f"/CN=confpy test {name}", cwd=directory)  # fmt: skip
    return Authority(directory, cert, key)


@dataclass(frozen=True)
class CertSet:
    """What a TLS etcd and its clients need: the CA, a server pair, a client pair (CN `client_cn`)."""

    ca: Authority
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def etcd_args(self, *, client_cert_auth: bool = True) -> list[str]:
        """etcd's flags for serving clients over TLS with these files."""
        args = ["--cert-file", str(self.server_cert), "--key-file", str(self.server_key),
                "--trusted-ca-file", str(self.ca.cert)]  # fmt: skip
        return [*args, "--client-cert-auth"] if client_cert_auth else args

    def client_context(self) -> ssl.SSLContext:
        """An SSLContext that trusts the CA and presents the client certificate (health polls)."""
        context = ssl.create_default_context(cafile=str(self.ca.cert))
        context.load_cert_chain(str(self.client_cert), str(self.client_key))
        return context


def make_cert_set(directory: Path, client_cn: str = "client") -> CertSet:
    """A CA in `directory` with a server certificate for 127.0.0.1 and one client certificate."""
    ca = make_authority(directory)
    server_cert, server_key = ca.issue("server", "etcd test server", server=True)
    client_cert, client_key = ca.issue("client", client_cn)
    return CertSet(ca, server_cert, server_key, client_cert, client_key)


def make_jwt_keys(directory: Path) -> tuple[Path, Path]:
    """An ES256 key pair (private, public) for etcd's `--auth-token jwt,...`."""
    directory.mkdir(parents=True, exist_ok=True)
    private, public = directory / "jwt.key", directory / "jwt.pub"
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(private), cwd=directory)
    _openssl("ec", "-in", str(private), "-pubout", "-out", str(public), cwd=directory)
    return private, public
