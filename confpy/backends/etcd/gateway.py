"""The connection of the etcd backend over etcd's JSON gateway (the v3 HTTP API), with the standard
library only: `HttpConnection`, what gateway_backend.GatewayBackend's requests go through.

`-etcd-transport http` selects that backend. It reads the same consistent snapshot as the gRPC transport
(`keys.read_pinned`), with the same endpoints, failover, retries, auth token and error meanings
(`channel.Endpoints`), but over HTTP/1.1 (`http11`): no gRPC in the process, whose import
alone is ~30 MiB of RSS and whose core threads wake 12+ times a second while idle (issue 16,
benchmarks/RESULTS.md). Leases and the sidecar's writes are `gateway_lease`'s, watches
`gateway_watch`'s (a stream each, on a connection of its own from `connect`). What it lacks against
gRPC, HTTP/2's keepalive pings, is made up for by a bound on each request (`timeout`) and, while
watches stream, a status request to their endpoint every few seconds (`gateway_watch.KEEPALIVE`).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from confpy.backends.etcd.channel import Endpoints, Transient, read_file
from confpy.backends.etcd.http11 import Closed, Connection, ProtocolError
from confpy.backends.etcd.nodes import Node
from confpy.errors import ConfigError, EndpointError

if TYPE_CHECKING:
    import ssl

__all__ = ["HAS_LEADER_HEADER", "HttpConnection", "b64", "from_b64"]

T = TypeVar("T")
log = logging.getLogger("confpy")

#: grpc-gateway passes `Grpc-Metadata-<name>` headers on as gRPC metadata `<name>`: etcd's
#: hasleader, so a member that lost its leader answers "no leader" instead of stale data.
HAS_LEADER_HEADER = ("Grpc-Metadata-hasleader", "true")
#: gRPC's status codes by number, as the gateway's error bodies carry them.
_CODES = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
]
_NO_TLS = "no TLS answer (is the endpoint http://?)"
# What OpenSSL's reasons (Python's ssl module) mean for the user, as seen with etcd 3.4.
_TLS_HINTS = (
    ("certificate_verify_failed", "etcd's certificate is not signed by {ca} (-client-ca-keys)"),
    ("certificate_required", "etcd refused the connection: it wants a client certificate"),
    ("bad_certificate", "etcd refused the connection: it wants a client certificate"),
    ("unknown_ca", "etcd refused the connection: it wants a client certificate"),
    ("wrong_version_number", _NO_TLS),
    ("unexpected_eof", _NO_TLS),
)
_CLIENT_CERT = " (-client-cert, -client-key) signed by a CA in its --trusted-ca-file"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


#: The gateway's base64 (keys, values) decoded: binascii's, which base64.b64decode wraps in a
#: Python call that converts its argument (a watch event decodes two; a snapshot two per key).
from_b64 = binascii.a2b_base64
#: One JSON document, as json.loads reads it but without the layers a str needs no more
#: (detecting bytes' encoding, the whitespace regex): on the path from a put to its file.
_decode_json = json.JSONDecoder().raw_decode
_JSON_SPACE = " \t\n\r"


def _json(data: bytes) -> Any:
    """`data` as JSON (ValueError: not JSON, or more than one document)."""
    text = data.decode("utf-8")
    start = len(text) - len(text.lstrip(_JSON_SPACE))
    value, end = _decode_json(text, start)
    if text[end:].strip(_JSON_SPACE):
        raise ValueError(f"extra data after the JSON document at {end}")
    return value


class HttpConnection(Endpoints):
    """One kept-alive HTTP/1.1 connection per endpoint for requests, and the auth token."""

    api = "HTTP (JSON gateway)"

    def __init__(
        self,
        nodes: Sequence[Node],
        *,
        cert: str | None,
        key: str | None,
        ca: str | None,
        username: str | None,
        password: str | None,
        timeout: float,
        connect_timeout: float,
    ) -> None:
        super().__init__(
            nodes,
            ca=ca,
            username=username,
            password=password,
            timeout=timeout,
            connect_timeout=connect_timeout,
        )
        self._ssl: ssl.SSLContext | None = None
        if any(n.secure for n in self.nodes):
            self._ssl = self._context(cert, key, ca)
        self._open: dict[int, Connection] = {}
        self._request_lock = threading.Lock()

    @staticmethod
    def _context(cert: str | None, key: str | None, ca: str | None) -> ssl.SSLContext:
        """TLS as the gRPC transport sets it up: the system's CAs unless -client-ca-keys is given."""
        import ssl

        ca_pem = read_file(ca, "CA certificate")
        context = ssl.create_default_context(cadata=ca_pem.decode("ascii", "replace") if ca_pem else None)
        if cert is not None and key is not None:
            read_file(cert, "client certificate")
            read_file(key, "client key")
            try:
                context.load_cert_chain(cert, key)
            except ssl.SSLError as exc:
                raise ConfigError(
                    f"cannot use the etcd client certificate {cert} with {key}: {exc}"
                ) from None
        return context

    def connect(self, index: int, timeout: float | None) -> Connection:
        """A new connection to endpoint `index` (not yet connected): requests keep one per endpoint
        (`post`), each watch stream has its own."""
        node = self.nodes[index]
        host, _, port = node.target.rpartition(":")
        return Connection(host.strip("[]"), int(port), timeout, self._ssl if node.secure else None)

    def _connection(self, index: int) -> tuple[Connection, bool]:
        """The endpoint's kept-alive connection (True: reused), or a new one."""
        conn = self._open.get(index)
        if conn is not None:
            return conn, True
        conn = self._open[index] = self.connect(index, self.timeout)
        return conn, False

    def _drop(self, index: int) -> None:
        conn = self._open.pop(index, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        with self._request_lock:
            for index in list(self._open):
                self._drop(index)

    def reconnect(self) -> None:
        """New connections for the next requests."""
        with self._request_lock:
            for index in list(self._open):
                self._drop(index)

    def headers(self, index: int, login: bool = True) -> dict[str, str]:
        """The request's headers, logging in first when a user is configured (and `login`)."""
        headers = {"Content-Type": "application/json", HAS_LEADER_HEADER[0]: HAS_LEADER_HEADER[1]}
        if self.username is not None and login:
            token = self._token
            if token is None:
                log.debug("logging in to etcd as user %r", self.username)
                body = {"name": self.username, "password": self._password}
                answer = self.post(
                    index, "/v3/auth/authenticate", body, {"Content-Type": "application/json"}, "login"
                )
                token = self._token = str(answer.get("token", ""))
            headers["Authorization"] = token
        return headers

    def post(
        self, index: int, path: str, body: Mapping[str, Any], headers: Mapping[str, str], what: str
    ) -> Any:
        """One POST to endpoint `index`, its JSON answer; etcd's errors classified (`classify_status`)."""
        payload = json.dumps(body).encode()
        with self._request_lock:
            for _ in range(2):
                conn, reused = self._connection(index)
                handshake = not reused
                try:
                    if handshake:  # the TLS handshake on its own: an EOF in it means no TLS server
                        conn.connect()
                        handshake = False
                    conn.request(path, payload, headers)
                    response = conn.response()
                    status, data = response.status, response.read()
                    if not response.reusable:
                        self._drop(index)
                    break
                except (Closed, BrokenPipeError, ConnectionResetError) as exc:
                    self._drop(index)
                    if not reused:  # a kept-alive connection etcd closed meanwhile: once more
                        raise self.failed(index, exc, handshake) from None
                except (OSError, ProtocolError) as exc:
                    self._drop(index)
                    raise self.failed(index, exc, handshake) from None
        return self.answer(index, status, data, what)

    def answer(self, index: int, status: int, data: bytes, what: str) -> Any:
        """etcd's JSON answer (a request's body, or one line of a stream), or the error it says."""
        try:
            answer = _json(data)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            if b"HTTPS server" in data:  # Go's answer to plain HTTP on a TLS port
                raise EndpointError(f"etcd at {self.nodes[index].url} wants TLS (write https://)")
            if b"CommonName of client" in data:  # etcd 3.4 with auth on, to a client certificate
                raise EndpointError(
                    f"etcd at {self.nodes[index].url} does not take the client certificate's CN as the user "
                    "on its JSON gateway: use -etcd-transport grpc, or -username and -password"
                )
            raise self.not_etcd(index)
        error = answer.get("error")
        if isinstance(error, dict):  # a stream's (keep-alive, watch): {"error": {"grpc_code", "message"}}
            answer = {"code": error.get("grpc_code", 2), "message": error.get("message")}
        if status != 200 or "code" in answer:
            code = answer.get("code", 2)
            name = _CODES[code] if isinstance(code, int) and 0 <= code < len(_CODES) else "UNKNOWN"
            raise self.classify_status(
                name, str(answer.get("error") or answer.get("message") or status), index, what
            )
        return answer

    def failed(self, index: int, exc: Exception, handshake: bool = False) -> Exception:
        """A failure below HTTP: TLS (a configuration error), or the connection (try the next node).
        `handshake`: it came before the TLS handshake completed."""
        if self._ssl is not None:
            import ssl  # loaded by `_context`: TLS errors come only where TLS is used

            if isinstance(exc, ssl.SSLError):
                return self._tls_failed(index, exc, handshake)
        if isinstance(exc, ProtocolError):
            return self.not_etcd(index)
        self.failover(index)
        if isinstance(exc, socket.timeout | TimeoutError):
            return Transient(f"no answer within {self.timeout:g} s")
        if isinstance(exc, ConnectionRefusedError):
            return Transient("connection refused")
        return Transient(str(exc) or type(exc).__name__)

    def _tls_failed(self, index: int, exc: ssl.SSLError, handshake: bool) -> EndpointError:
        """What a TLS failure means for the user: a wrong CA, no TLS server, a refused certificate."""
        import ssl

        reason = str(getattr(exc, "reason", "") or "").lower()
        details = getattr(exc, "verify_message", None) or str(exc)
        ca = f"the CA in {self._ca}" if self._ca else "a CA the system trusts"
        hint = next((h.format(ca=ca) for word, h in _TLS_HINTS if word in reason), "")
        if not reason and isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
            # A plain-HTTP server closes the connection in the handshake (Debian's Python 3.11.2
            # says ZeroReturn, without a reason); TLS 1.3's etcd checks the client certificate
            # after it, and may close the connection without the alert that says so.
            hint = _NO_TLS if handshake else "etcd refused the connection: it wants a client certificate"
        if hint.endswith("client certificate"):
            hint += _CLIENT_CERT
        url = self.nodes[index].url
        return EndpointError(f"TLS with etcd at {url} failed: {hint + ': ' if hint else ''}{details}")

    def call(self, what: str, path: str, body: Mapping[str, Any]) -> Any:
        """One request with failover, re-login and bounded retries."""

        def attempt() -> Any:
            index = self.current()
            return self.post(index, path, body, self.headers(index), what)

        started = time.monotonic()
        try:
            return self.retry(attempt)
        except Transient as exc:
            raise self.unreachable(exc, started) from None
