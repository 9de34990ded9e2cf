"""The etcd backend's connection: TLS, one gRPC channel per endpoint, keepalive and hasleader,
endpoint rotation and failover, password auth tokens, and bounded retries of each request.

Every request of the backend (reads, writes, leases, the watch stream) goes through one
`Connection`, which also turns gRPC's errors into what the user reads (`classify`). gRPC and the
etcd client's stubs (`pyetcd.etcdrpc`) are imported when a connection is made, not before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from confpy.backends.backoff import Backoff
from confpy.backends.etcd.keys import Compacted
from confpy.backends.etcd.nodes import DEFAULT_PORT, Node
from confpy.errors import BackendError, ConfigError, EndpointError

__all__ = [
    "GRPC_OPTIONS",
    "GRPC_WAIT_SLICE",
    "HAS_LEADER",
    "RECONNECT_INTERVAL",
    "Compacted",
    "Connection",
    "Endpoints",
    "Metadata",
    "NotFound",
    "Stopped",
    "Transient",
]

T = TypeVar("T")
Metadata = tuple[tuple[str, str], ...]
log = logging.getLogger("confpy")

RECONNECT_INTERVAL = 2.0
#: Between the attempts of one request or watch set-up, across the endpoints.
_RETRY = Backoff(first=0.05, cap=1.0)

# Verified against etcd 3.4 (see the shared etcd-client notes): keepalive pings no more often than
# etcd allows, so a frozen (SIGSTOPped) member ends a watch within 5-15 s, and a restarted one is
# reconnected to within a second instead of after gRPC's default backoff of up to two minutes.
GRPC_OPTIONS = [
    ("grpc.keepalive_time_ms", 10000),
    ("grpc.keepalive_timeout_ms", 5000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.http2.ping_timeout_ms", 5000),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.max_receive_message_length", -1),
]
# gRPC's blocking waits (grpc._common.wait: a streaming call's next response, a request's send)
# wait on a condition in slices of 0.1 s, so that a main thread blocked in one still runs signal
# handlers (grpc/grpc#19464). Every event notifies that condition, so the slices only add wake-ups:
# 10 of the 24 per second of an idle `confpy -watch`, on the thread reading the watch stream.
# confpy waits in them only on its own threads (signals: runtime/signals.py's thread), so the slice
# is set to a minute; an interrupted lock acquire still runs a main thread's handlers at once.
GRPC_WAIT_SLICE = 60.0
# A member that lost its leader answers "no leader" at once instead of serving stale data or
# keeping a watch open that will never deliver.
HAS_LEADER = ("hasleader", "true")
# What gRPC's TLS failures (OpenSSL's words) mean for the user, as seen with etcd 3.4. A rejected
# client certificate surfaces only after the TLS 1.3 handshake, as a record that cannot be decrypted.
_TLS_HINTS = (
    ("certificate_verify_failed", "etcd's certificate is not signed by {ca} (-client-ca-keys)"),
    (
        "tsi_data_corrupted",
        "etcd refused the connection: it wants a client certificate (-client-cert, -client-key) "
        "signed by a CA in its --trusted-ca-file",
    ),
    ("handshake read failed", "no TLS answer (is the endpoint http://?)"),
)
# Connections cut short, which another attempt cures, although their words sound like TLS: gRPC's
# "tcp handshaker shutdown" is a TCP connect cut short (under load, or while the channel
# reconnects); the other two are a TLS handshake cut by either side while an etcd member starts
# or its node rejoins (seen in the Swarm stack). A server that does not speak TLS at all closes
# the socket instead: "Handshake read failed (Socket closed)", which stays an EndpointError.
_CUT_SHORT = ("tcp handshaker", "handshake read failed (endpoint closing)", "handshake write failed")


class Transient(Exception):
    """A failure that another attempt (maybe on another endpoint) can cure."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


class Stopped(Exception):
    """A watch was cancelled while it was still being set up."""


class NotFound(BackendError):
    """etcd answered NOT_FOUND: what the request names is gone (a lease that expired or was revoked)."""


def _stubs() -> Any:
    """The etcd client's generated stubs (`pyetcd.etcdrpc`), without the rest of the client.

    pyetcd's `__init__` imports its high-level client (locks, leases, members, with their own
    imports), none of which confpy uses: ~1 MiB of RSS and ~5 ms of every start. So unless pyetcd
    is imported already, `pyetcd.etcdrpc` is imported under a bare package module, which is then
    removed: a later `import pyetcd` runs the real `__init__`, which finds the stubs loaded.
    """
    import importlib
    import importlib.util
    import sys
    import types

    if "pyetcd" in sys.modules:
        return importlib.import_module("pyetcd.etcdrpc")
    spec = importlib.util.find_spec("pyetcd")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("No module named 'pyetcd' (the etcd-sdk-python package)", name="pyetcd")
    package = types.ModuleType("pyetcd")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["pyetcd"] = package
    try:
        return importlib.import_module("pyetcd.etcdrpc")
    finally:
        if sys.modules.get("pyetcd") is package:
            del sys.modules["pyetcd"]


def read_file(path: str | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the etcd {what} {path}: {exc.strerror}") from None


class Endpoints:
    """What both transports share: the endpoints, the one requests go to now, failover, the auth
    token, bounded retries, and what etcd's status codes mean for the user (`classify_status`).

    gRPC's channels (`Connection`) and etcd's JSON gateway (`gateway.HttpConnection`) build on it;
    it imports neither gRPC nor the etcd client. `timeout` bounds each request; `connect_timeout`
    bounds the retries of one operation across all endpoints (each endpoint is tried at least
    once), with exponential backoff.
    """

    def __init__(
        self,
        nodes: Sequence[Node],
        *,
        ca: str | None,
        username: str | None,
        password: str | None,
        timeout: float,
        connect_timeout: float,
    ) -> None:
        self.nodes = list(nodes)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.username = username
        self._password = password
        self._ca = ca
        self._lock = threading.Lock()
        self._current = 0
        self._token: str | None = None
        self._closed = False

    @property
    def urls(self) -> str:
        return ", ".join(n.url for n in self.nodes)

    def current(self) -> int:
        """The index of the endpoint requests go to now."""
        with self._lock:
            if self._closed:
                raise BackendError("the etcd backend is closed")
            return self._current

    def failover(self, index: int) -> None:
        """Move on from a failed endpoint (if no other call did already)."""
        with self._lock:
            if self._current == index:
                self._current = (index + 1) % len(self.nodes)

    def forget_token(self) -> None:
        """The token expired: the next request logs in again."""
        self._token = None

    def tls_failed(self, index: int, details: str) -> EndpointError:
        """A wrong CA, or a client certificate the server refuses: retrying cannot help."""
        lowered = details.lower()
        ca = f"the CA in {self._ca}" if self._ca else "a CA the system trusts"
        hint = next((h.format(ca=ca) for word, h in _TLS_HINTS if word in lowered), "")
        url = self.nodes[index].url
        return EndpointError(f"TLS with etcd at {url} failed: {hint + ': ' if hint else ''}{details}")

    def not_etcd(self, index: int) -> EndpointError:
        """Something answered, in another protocol (a web server) or without etcd's API: no retry
        changes that."""
        return EndpointError(
            f"{self.nodes[index].url} is not an etcd {self.api} endpoint: something answers there, but "
            f"not etcd's v3 API (give etcd's client URL to -node, by default port {DEFAULT_PORT})"
        )

    #: How messages name the API this transport speaks.
    api = "gRPC"

    def classify_status(self, code: str, details: str, index: int, what: str) -> Exception:
        """An error etcd answered with (its gRPC status `code`'s name and `details`) as a retry
        (`Transient`) or the error the user sees: an `EndpointError` where the answer says the
        configuration is wrong (exit 2)."""
        lowered = details.lower()
        url = self.nodes[index].url
        if code == "UNIMPLEMENTED":
            return self.not_etcd(index)
        if code in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
            self.failover(index)
            if code == "DEADLINE_EXCEEDED":
                return Transient(f"no answer within {self.timeout:g} s")
            return Transient("connection refused" if "connection refused" in lowered else details)
        # A token etcd no longer knows (expired, or lost in a restart), or a JWT issued before
        # the last change to users or roles: log in again.
        if code == "UNAUTHENTICATED" or "invalid auth token" in lowered or "auth store is old" in lowered:
            self.forget_token()
            return Transient(f"authentication expired ({details})")
        if code == "INVALID_ARGUMENT" and "authentication failed" in lowered:
            return EndpointError(f"etcd at {url} rejected user {self.username!r}: {details}")
        if code == "PERMISSION_DENIED":
            who = f"user {self.username!r}" if self.username else "the user in the client certificate's CN"
            return BackendError(f"etcd at {url} denied the {what} to {who}: {details}")
        if code == "OUT_OF_RANGE" and "compacted" in lowered:
            return Compacted(details)
        error = NotFound if code == "NOT_FOUND" else BackendError
        return error(f"etcd {what} failed at {url}: {details} ({code})")

    def retry(self, call: Callable[[], T], sleep: Callable[[float], Any] = time.sleep) -> T:
        """`call()` with exponential backoff on `Transient` errors, until `connect_timeout` has
        passed and every endpoint was tried."""
        return _RETRY.retry(
            call, transient=Transient, within=self.connect_timeout, attempts=len(self.nodes), sleep=sleep
        )

    def set_up(self, attempt: Callable[[], None], stop: threading.Event, cancel: Callable[[], None]) -> None:
        """A watch's set-up: `attempt()` retried as `retry` does (`stop` ends its backoff sleeps);
        on any failure the watch is `cancel`led and the error is the user's."""
        started = time.monotonic()
        try:
            self.retry(attempt, sleep=stop.wait)
        except Transient as exc:
            cancel()
            raise self.unreachable(exc, started) from None
        except Stopped:
            cancel()
            raise BackendError("the etcd backend was closed while a watch was set up") from None
        except BaseException:
            cancel()
            raise

    def unreachable(self, exc: Transient, started: float) -> BackendError:
        return BackendError(
            f"cannot reach etcd at {self.urls}: {exc.cause} after {time.monotonic() - started:.1f} s"
        )


class Connection(Endpoints):
    """gRPC channels to the endpoints (one each), with keepalive and hasleader."""

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
        import grpc
        import grpc._common

        etcdrpc = _stubs()
        if getattr(grpc._common, "MAXIMUM_WAIT_TIMEOUT", 0) < GRPC_WAIT_SLICE:
            grpc._common.MAXIMUM_WAIT_TIMEOUT = GRPC_WAIT_SLICE
        self.grpc: Any = grpc
        self.rpc: Any = etcdrpc
        self._creds = None
        if any(n.secure for n in self.nodes):
            self._creds = grpc.ssl_channel_credentials(
                root_certificates=read_file(ca, "CA certificate"),
                private_key=read_file(key, "client key"),
                certificate_chain=read_file(cert, "client certificate"),
            )
        self._channels: list[Any] = self._new_channels()
        self._reconnected = time.monotonic()

    def _new_channels(self) -> list[Any]:
        return [
            self.grpc.secure_channel(n.target, self._creds, options=GRPC_OPTIONS)
            if n.secure
            else self.grpc.insecure_channel(n.target, options=GRPC_OPTIONS)
            for n in self.nodes
        ]

    def reconnect(self) -> None:
        """Fresh channels to every endpoint (at most once per RECONNECT_INTERVAL)."""
        with self._lock:
            if self._closed or time.monotonic() - self._reconnected < RECONNECT_INTERVAL:
                return
            self._reconnected = time.monotonic()
            self._channels = self._new_channels()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        for channel in self._channels:
            channel.close()

    def endpoint(self) -> tuple[int, Any]:
        """The index and channel of the endpoint requests go to now."""
        index = self.current()
        return index, self._channels[index]

    def metadata(self, channel: Any) -> Metadata:
        """The request metadata, logging in first when a user is configured."""
        if self.username is None:
            return (HAS_LEADER,)
        token = self._token
        if token is None:
            log.debug("logging in to etcd as user %r", self.username)
            request = self.rpc.AuthenticateRequest(name=self.username, password=self._password)
            token = self._token = str(self.rpc.AuthStub(channel).Authenticate(request, self.timeout).token)
        return (HAS_LEADER, ("token", token))

    def classify(self, exc: Any, index: int, what: str) -> Exception:
        """A gRPC error as `classify_status` sees it, after the failures that gRPC itself reports
        (TLS, another protocol, a connection cut short)."""
        code = exc.code()
        details = str(exc.details() or code.name)
        lowered = details.lower()
        cut = any(words in lowered for words in _CUT_SHORT)
        if not cut and any(word in lowered for word in ("ssl", "handshake", "certificate", "tsi_")):
            return self.tls_failed(index, details)
        if "failed parsing http/2" in lowered:
            return self.not_etcd(index)
        if cut:
            self.failover(index)
            return Transient(details)
        return self.classify_status(code.name, details, index, what)

    def call(self, what: str, fn: Callable[[Any, Metadata], T]) -> T:
        """Run one request with failover and bounded retries."""

        def attempt() -> T:
            index, channel = self.endpoint()
            try:
                return fn(channel, self.metadata(channel))
            except self.grpc.RpcError as exc:
                raise self.classify(exc, index, what) from None

        started = time.monotonic()
        try:
            return self.retry(attempt)
        except Transient as exc:
            raise self.unreachable(exc, started) from None
