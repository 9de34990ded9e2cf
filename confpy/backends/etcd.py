"""The etcd v3 backend: consistent reads, watches that report every failure, bounded retries.

The only module that imports the etcd client (`pyetcd`, from etcd-sdk-python), and it uses only
its generated gRPC stubs: endpoint choice, retries, auth tokens and the watch stream are done here,
because the library's own versions lock a failed node out for minutes, drop error details, and let
a watch that etcd cancelled look alive. Both imports happen when a backend is made, so
`import confpy` stays fast.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import tenacity

from confpy.backends.backoff import Backoff
from confpy.backends.base import Event, EventCallback, LeaseBackend, Snapshot, Watch, decode_value
from confpy.errors import BackendError, ConfigError, RevisionCompactedError, ValueDecodeError

__all__ = ["MAX_TXN_OPS", "EtcdBackend", "Node", "parse_node"]

T = TypeVar("T")
log = logging.getLogger("confpy")

#: etcd's default --max-txn-ops: a read of more prefixes is split into several transactions.
MAX_TXN_OPS = 128
RECONNECT_INTERVAL = 2.0
DEFAULT_PORT = 2379

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


@dataclass(frozen=True)
class Node:
    """One `-node` value, normalised: `url` for messages, `target` (host:port) for gRPC."""

    url: str
    target: str
    secure: bool


def parse_node(node: str, tls: bool = False) -> Node:
    """confd's `-node` forms: `http://h:p`, `https://h:p`, or `h:p` (https when `tls`)."""
    raw = node.strip()
    if "://" not in raw:
        raw = ("https://" if tls else "http://") + raw
    try:
        parts = urlsplit(raw)
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise ConfigError(f"bad etcd node {node!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ConfigError(
            f"bad etcd node {node!r}: expected http://host:port, https://host:port or host:port"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    target = f"{host}:{port}"
    return Node(f"{parts.scheme}://{target}", target, parts.scheme == "https")


def _prefix_end(prefix: bytes) -> bytes:
    """etcd's range end for "every key starting with prefix"."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\0"
    return stripped[:-1] + bytes([stripped[-1] + 1])


def _decode_key(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # The message names the key as Python shows bytes; built only here, as it is slow.
        raise ValueDecodeError(repr(raw)[1:]) from None


def _read_file(path: str | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the etcd {what} {path}: {exc.strerror}") from None


class _Transient(Exception):
    """A failure that another attempt (maybe on another endpoint) can cure."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


class _Compacted(Exception):
    """A range at a pinned revision that etcd has compacted away."""


class _Stopped(Exception):
    """A watch was cancelled while it was still being set up."""


class EtcdBackend(LeaseBackend):
    """Reads and watches keys in an etcd v3 cluster through its gRPC API.

    `timeout` bounds each request; `connect_timeout` bounds the retries of one operation across
    all endpoints (each endpoint is tried at least once), with exponential backoff.
    """

    name = "etcd"

    def __init__(
        self,
        nodes: Sequence[str],
        *,
        cert: str | None = None,
        key: str | None = None,
        ca: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 5.0,
        connect_timeout: float = 5.0,
    ) -> None:
        if isinstance(nodes, str):
            nodes = [nodes]
        if not nodes:
            raise ConfigError("no etcd node given")
        if (cert is None) != (key is None):
            raise ConfigError("an etcd client certificate needs both the certificate and its key")
        if (username is None) != (password is None):
            raise ConfigError("etcd authentication needs both a user name and a password")
        tls = any(f is not None for f in (cert, key, ca))
        self.nodes = [parse_node(n, tls) for n in nodes]
        for plain in (n for n in self.nodes if tls and not n.secure):
            # confd silently talks plain text here too; a user who gave TLS files expects TLS.
            log.warning("etcd node %s is http://: TLS files are not used for it (write https://)", plain.url)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._username = username
        self._password = password
        self._ca = ca

        import grpc
        from pyetcd import etcdrpc

        self._grpc: Any = grpc
        self._rpc: Any = etcdrpc
        self._creds = None
        if any(n.secure for n in self.nodes):
            self._creds = grpc.ssl_channel_credentials(
                root_certificates=_read_file(ca, "CA certificate"),
                private_key=_read_file(key, "client key"),
                certificate_chain=_read_file(cert, "client certificate"),
            )
        self._channels: list[Any] = self._new_channels()
        self._reconnected = time.monotonic()
        self._lock = threading.Lock()
        self._current = 0
        self._token: str | None = None
        self._watches: set[_EtcdWatch] = set()
        # The stream new watches go on, every stream still running, and the lock that makes sure
        # only one caller opens a new stream.
        self._stream: _WatchStream | None = None
        self._streams: set[_WatchStream] = set()
        self._stream_lock = threading.Lock()
        self._closed = False

    def _new_channels(self) -> list[Any]:
        return [
            self._grpc.secure_channel(n.target, self._creds, options=GRPC_OPTIONS)
            if n.secure
            else self._grpc.insecure_channel(n.target, options=GRPC_OPTIONS)
            for n in self.nodes
        ]

    def reconnect(self) -> None:
        """Fresh connections to every endpoint, so a watch resumes through a new client, never a
        possibly wedged one. The watch stream, if still running, keeps its old connection until it
        ends; the next one opens on the new. Many watches failing together (an etcd restart)
        cause one reconnect per RECONNECT_INTERVAL."""
        with self._lock:
            if self._closed or time.monotonic() - self._reconnected < RECONNECT_INTERVAL:
                return
            self._reconnected = time.monotonic()
            self._channels = self._new_channels()

    @property
    def urls(self) -> str:
        return ", ".join(n.url for n in self.nodes)

    # --- reads -------------------------------------------------------------------------------

    def read(self, prefixes: Sequence[str], revision: int | None = None) -> Snapshot:
        """Every key under `prefixes` as one snapshot, at `revision` or at the current one.

        More prefixes than fit one transaction are read in several, all pinned to the revision the
        first one saw, so the result is consistent however many prefixes there are.
        """
        unique = list(dict.fromkeys(prefixes))
        batches = [unique[i : i + MAX_TXN_OPS] for i in range(0, len(unique), MAX_TXN_OPS)] or [[]]
        for _ in range(3):
            try:
                return self._read_batches(batches, revision)
            except _Compacted:
                if revision is not None:
                    raise BackendError(
                        f"cannot read revision {revision} from etcd at {self.urls}: it has been compacted"
                    ) from None
        raise BackendError(f"etcd at {self.urls} compacted every revision confpy tried to read; try again")

    def _read_batches(self, batches: list[list[str]], revision: int | None) -> Snapshot:
        values: dict[str, str] = {}
        pinned = revision or 0
        for batch in batches:
            response = self._txn_ranges(batch, pinned)
            pinned = pinned or int(response.header.revision)
            for item in response.responses:
                for kv in item.response_range.kvs:
                    key = _decode_key(kv.key)
                    values[key] = decode_value(key, kv.value)
        return Snapshot(values, pinned)

    def _txn_ranges(self, prefixes: list[str], revision: int) -> Any:
        rpc = self._rpc
        ops = []
        for prefix in prefixes:
            start = prefix.encode() or b"\0"
            request = rpc.RangeRequest(key=start, range_end=_prefix_end(prefix.encode()), revision=revision)
            ops.append(rpc.RequestOp(request_range=request))
        txn = rpc.TxnRequest(success=ops)
        named = ", ".join(prefixes[:3]) + (
            f" and {len(prefixes) - 3} more prefixes" if len(prefixes) > 3 else ""
        )
        return self._call(
            f"read of {named or 'nothing'}",
            lambda channel, md: rpc.KVStub(channel).Txn(txn, self.timeout, metadata=md),
        )

    # --- writes, for the sidecar commands --------------------------------------------------

    def put(self, key: str, value: str, lease_ttl: int | None = None) -> int:
        """Set `key`, with `lease_ttl` on a new lease that expires unless refreshed; returns the revision."""
        rpc = self._rpc
        lease = 0
        if lease_ttl is not None:
            grant = rpc.LeaseGrantRequest(TTL=lease_ttl)
            lease = self._call(
                f"lease grant for {key}",
                lambda channel, md: rpc.LeaseStub(channel).LeaseGrant(grant, self.timeout, metadata=md),
            ).ID
        request = rpc.PutRequest(key=key.encode(), value=value.encode(), lease=lease)
        response = self._call(
            f"write of {key}", lambda channel, md: rpc.KVStub(channel).Put(request, self.timeout, metadata=md)
        )
        return int(response.header.revision)

    def delete(self, key: str) -> int:
        """Delete `key` (no error when it is absent). Returns the revision."""
        rpc = self._rpc
        request = rpc.DeleteRangeRequest(key=key.encode())
        response = self._call(
            f"delete of {key}",
            lambda channel, md: rpc.KVStub(channel).DeleteRange(request, self.timeout, metadata=md),
        )
        return int(response.header.revision)

    def put_if_absent(self, key: str, value: str) -> bool:
        """Create `key` only if it does not exist, atomically. True when this call created it."""
        rpc = self._rpc
        absent = rpc.Compare(
            key=key.encode(), target=rpc.Compare.CREATE, result=rpc.Compare.EQUAL, create_revision=0
        )
        put = rpc.RequestOp(request_put=rpc.PutRequest(key=key.encode(), value=value.encode()))
        txn = rpc.TxnRequest(compare=[absent], success=[put])
        response = self._call(
            f"create of {key}", lambda channel, md: rpc.KVStub(channel).Txn(txn, self.timeout, metadata=md)
        )
        return bool(response.succeeded)

    # --- leases, for `confpy register` and `confpy exec -register` ----------------------------

    def grant_lease(self, ttl: int) -> tuple[int, int]:
        """A new lease of `ttl` seconds: its ID, and the TTL etcd granted (it rounds tiny ones up)."""
        rpc = self._rpc
        request = rpc.LeaseGrantRequest(TTL=ttl)
        response = self._call(
            f"grant of a {ttl} s lease",
            lambda channel, md: rpc.LeaseStub(channel).LeaseGrant(request, self.timeout, metadata=md),
        )
        if response.error:
            raise BackendError(f"etcd at {self.urls} refused a {ttl} s lease: {response.error}")
        return int(response.ID), int(response.TTL)

    def put_on_lease(self, values: Mapping[str, str], lease: int) -> int:
        """Set every key of `values` on `lease`, in one transaction; returns the revision.

        A lease that no longer exists is an error (etcd's "requested lease not found").
        """
        rpc = self._rpc
        puts = [
            rpc.RequestOp(request_put=rpc.PutRequest(key=k.encode(), value=v.encode(), lease=lease))
            for k, v in values.items()
        ]
        txn = rpc.TxnRequest(success=puts)
        response = self._call(
            f"write of {', '.join(values)}",
            lambda channel, md: rpc.KVStub(channel).Txn(txn, self.timeout, metadata=md),
        )
        return int(response.header.revision)

    def keep_alive(self, lease: int) -> int:
        """Refresh `lease` once; the seconds it has left, 0 when it has expired or was revoked.

        One round trip on etcd's keep-alive stream, so callers refresh every TTL/3 themselves; etcd
        answers a lost lease with TTL 0, not with an error.
        """
        rpc = self._rpc
        request = rpc.LeaseKeepAliveRequest(ID=lease)

        def refresh(channel: Any, md: tuple[tuple[str, str], ...]) -> int:
            stub = rpc.LeaseStub(channel)
            for response in stub.LeaseKeepAlive(iter([request]), self.timeout, metadata=md):
                return int(response.TTL)
            raise _Transient("etcd ended the keep-alive stream without an answer")

        return self._call(f"keep-alive of lease {lease:x}", refresh)

    def revoke_lease(self, lease: int) -> bool:
        """Revoke `lease`, which deletes every key on it; False when it was already gone."""
        rpc, grpc = self._rpc, self._grpc
        request = rpc.LeaseRevokeRequest(ID=lease)

        def revoke(channel: Any, md: tuple[tuple[str, str], ...]) -> bool:
            try:
                rpc.LeaseStub(channel).LeaseRevoke(request, self.timeout, metadata=md)
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND:
                    return False
                raise
            return True

        return self._call(f"revoke of lease {lease:x}", revoke)

    # --- watch ---------------------------------------------------------------------------------

    def watch(self, prefix: str, start_revision: int, callback: EventCallback) -> Watch:
        """Stream changes under `prefix` from `start_revision` on, on the backend's watch stream.

        Returns once etcd has confirmed the watch; raises BackendError when that does not happen
        within `connect_timeout` (retrying, on every endpoint). Any later failure arrives as one
        `callback(BackendError)`; a start revision etcd has compacted as `RevisionCompactedError`.
        """
        watch = _EtcdWatch(self, prefix, start_revision, callback)
        with self._lock:
            if self._closed:
                raise BackendError("the etcd backend is closed")
            self._watches.add(watch)
        started = time.monotonic()
        try:
            self._retrying(sleep=watch.stop.wait)(self._establish, watch)
        except _Transient as exc:
            watch.cancel()
            raise self._unreachable(exc, started) from None
        except _Stopped:
            watch.cancel()
            raise BackendError("the etcd backend was closed while a watch was set up") from None
        except BaseException:
            watch.cancel()
            raise
        return Watch(watch.cancel)

    def _establish(self, watch: _EtcdWatch) -> None:
        """One attempt: send the create request and wait (at most `timeout`) for etcd's answer."""
        watch.settled.clear()
        if watch.stop.is_set():
            raise _Stopped
        stream = self._watch_stream(watch.prefix)
        stream.add(watch)
        if not watch.settled.wait(self.timeout) and stream.abandon(watch):
            # The stream is stuck: end it (its watches resume elsewhere) and try the next endpoint.
            self._failover(stream.index)
            stream.end(f"no answer within {self.timeout:g} s")
            raise _Transient(f"no answer within {self.timeout:g} s")
        watch.settled.wait()
        if watch.outcome is not None:
            raise watch.outcome

    def _watch_stream(self, prefix: str) -> _WatchStream:
        """The stream that takes new watches, opened on the current endpoint if there is none."""
        with self._stream_lock:
            stream = self._stream
            if stream is not None and stream.accepting:
                return stream
            index, channel = self._endpoint()
            try:
                metadata = self._metadata(channel)
            except self._grpc.RpcError as exc:
                raise self._classify(exc, index, f"watch on {prefix}") from None
            stream = _WatchStream(self, index, channel, metadata)
            with self._lock:
                closed = self._closed
                if not closed:
                    self._stream = stream
                    self._streams.add(stream)
            stream.start()
            if closed:
                stream.end("the etcd backend was closed")
                raise _Stopped
            return stream

    def _stream_ended(self, stream: _WatchStream) -> None:
        with self._lock:
            self._streams.discard(stream)
            if self._stream is stream:
                self._stream = None

    def _forget(self, watch: _EtcdWatch) -> None:
        with self._lock:
            self._watches.discard(watch)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            watches = list(self._watches)
            streams = list(self._streams)
        for watch in watches:
            watch.cancel()
        for stream in streams:
            stream.end("the etcd backend was closed")
        for channel in self._channels:
            channel.close()

    # --- calls, retries and errors -------------------------------------------------------------

    def _endpoint(self) -> tuple[int, Any]:
        with self._lock:
            if self._closed:
                raise BackendError("the etcd backend is closed")
            return self._current, self._channels[self._current]

    def _failover(self, index: int) -> None:
        """Move on from a failed endpoint (if no other call did already)."""
        with self._lock:
            if self._current == index:
                self._current = (index + 1) % len(self._channels)

    def _metadata(self, channel: Any) -> tuple[tuple[str, str], ...]:
        """The request metadata, logging in first when a user is configured."""
        if self._username is None:
            return (HAS_LEADER,)
        token = self._token
        if token is None:
            log.debug("logging in to etcd as user %r", self._username)
            request = self._rpc.AuthenticateRequest(name=self._username, password=self._password)
            token = self._token = str(self._rpc.AuthStub(channel).Authenticate(request, self.timeout).token)
        return (HAS_LEADER, ("token", token))

    def _classify(self, exc: Any, index: int, what: str) -> Exception:
        """Turn a gRPC error into a retry (`_Transient`) or the error the user sees."""
        codes = self._grpc.StatusCode
        code = exc.code()
        details = str(exc.details() or code.name)
        lowered = details.lower()
        url = self.nodes[index].url
        # gRPC's "tcp handshaker shutdown" is a TCP connect cut short (under load, or while the
        # channel reconnects), not TLS: it was reported as "TLS with etcd at http://... failed".
        tcp_cut = "tcp handshaker" in lowered
        if not tcp_cut and any(word in lowered for word in ("ssl", "handshake", "certificate", "tsi_")):
            # A wrong CA, or a client certificate the server refuses: retrying cannot help.
            ca = f"the CA in {self._ca}" if self._ca else "a CA the system trusts"
            hint = next((h.format(ca=ca) for word, h in _TLS_HINTS if word in lowered), "")
            return BackendError(f"TLS with etcd at {url} failed: {hint + ': ' if hint else ''}{details}")
        if "failed parsing http/2" in lowered or code == codes.UNIMPLEMENTED:
            # Something answered, in another protocol (a web server) or without etcd's API: no
            # retry changes that.
            return BackendError(
                f"{url} is not an etcd gRPC endpoint: something answers there, but not etcd's v3 API "
                f"(give etcd's client URL to -node, by default port {DEFAULT_PORT})"
            )
        if code in (codes.UNAVAILABLE, codes.DEADLINE_EXCEEDED) or tcp_cut:
            self._failover(index)
            if code == codes.DEADLINE_EXCEEDED:
                return _Transient(f"no answer within {self.timeout:g} s")
            return _Transient("connection refused" if "connection refused" in lowered else details)
        # A token etcd no longer knows (expired, or lost in a restart), or a JWT issued before
        # the last change to users or roles: log in again.
        if code == codes.UNAUTHENTICATED or "invalid auth token" in lowered or "auth store is old" in lowered:
            self._token = None
            return _Transient(f"authentication expired ({details})")
        if code == codes.INVALID_ARGUMENT and "authentication failed" in lowered:
            return BackendError(f"etcd at {url} rejected user {self._username!r}: {details}")
        if code == codes.PERMISSION_DENIED:
            who = f"user {self._username!r}" if self._username else "the user in the client certificate's CN"
            return BackendError(f"etcd at {url} denied the {what} to {who}: {details}")
        if code == codes.OUT_OF_RANGE and "compacted" in lowered:
            return _Compacted(details)
        return BackendError(f"etcd {what} failed at {url}: {details} ({code.name})")

    def _retrying(self, sleep: Callable[[float], Any] = time.sleep) -> tenacity.Retrying:
        """Exponential backoff until `connect_timeout` has passed and every endpoint was tried."""
        attempts = len(self.nodes)

        def stop(state: tenacity.RetryCallState) -> bool:
            return (
                state.seconds_since_start or 0.0
            ) >= self.connect_timeout and state.attempt_number >= attempts

        backoff = Backoff(first=0.05, cap=1.0)

        def wait(state: tenacity.RetryCallState) -> float:
            left = self.connect_timeout - (state.seconds_since_start or 0.0)
            return max(0.0, min(backoff.delay(state.attempt_number), left))

        return tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Transient),
            stop=stop,
            wait=wait,
            sleep=sleep,
            reraise=True,
        )

    def _call(self, what: str, fn: Callable[[Any, tuple[tuple[str, str], ...]], T]) -> T:
        """Run one request with failover and bounded retries."""

        def attempt() -> T:
            index, channel = self._endpoint()
            try:
                return fn(channel, self._metadata(channel))
            except self._grpc.RpcError as exc:
                raise self._classify(exc, index, what) from None

        started = time.monotonic()
        try:
            return self._retrying()(attempt)
        except _Transient as exc:
            raise self._unreachable(exc, started) from None

    def _unreachable(self, exc: _Transient, started: float) -> BackendError:
        return BackendError(
            f"cannot reach etcd at {self.urls}: {exc.cause} after {time.monotonic() - started:.1f} s"
        )


class _EtcdWatch:
    """One watch on the backend's shared stream; `cancel()` guarantees no callback afterwards."""

    def __init__(
        self, backend: EtcdBackend, prefix: str, start_revision: int, callback: EventCallback
    ) -> None:
        self.backend = backend
        self.prefix = prefix
        self.next_revision = start_revision
        self._callback = callback
        # Held while the callback runs, so cancel() returns only after an in-flight callback.
        self._lock = threading.RLock()
        self._cancelled = False
        self._finished = False
        # Set by cancel(): ends the set-up's retries and backoff sleeps.
        self.stop = threading.Event()
        # The outcome of the current create request: None once etcd confirmed it.
        self.settled = threading.Event()
        self.outcome: Exception | None = None
        self.stream: _WatchStream | None = None
        self.watch_id = -1

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def settle(self, outcome: Exception | None) -> None:
        with self._lock:
            if not self.settled.is_set():
                self.outcome = outcome
                self.settled.set()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
        self.stop.set()
        self.settle(_Stopped())
        stream = self.stream
        if stream is not None:
            stream.remove(self)
        self.backend._forget(self)

    def deliver(self, item: list[Event] | BackendError) -> None:
        with self._lock:
            if self._cancelled or self._finished:
                return
            if isinstance(item, BackendError):
                self._finished = True
            self._callback(item)


class _WatchStream:
    """Every watch of a backend on one gRPC Watch stream, so idle cost does not grow with them.

    etcd multiplexes watches on a stream by watch_id and answers create requests in order, so
    `pending` (the watches whose create was sent) matches each `created` response to its watch.
    One thread reads the responses; gRPC's own thread sends what `_requests` takes off a queue,
    blocking without polling. A failure of the stream ends every watch on it with one error.
    """

    def __init__(self, backend: EtcdBackend, index: int, channel: Any, metadata: Any) -> None:
        self.backend = backend
        self.index = index
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pending: collections.deque[_EtcdWatch | None] = collections.deque()
        self._watches: dict[int, _EtcdWatch] = {}
        # False once the stream takes no new watches: it ended, or its token expired.
        self._accepting = True
        self._reason: str | None = None
        # Why the stream ended, for the watches that come too late to be sent on it.
        self._ended: Exception | None = None
        self._call = backend._rpc.WatchStub(channel).Watch(self._requests(), metadata=metadata)

    def start(self) -> None:
        threading.Thread(target=self._run, name="confpy-etcd-watch", daemon=True).start()

    @property
    def accepting(self) -> bool:
        return self._accepting

    def _requests(self) -> Iterator[Any]:
        while (request := self._queue.get()) is not None:
            yield request

    def add(self, watch: _EtcdWatch) -> None:
        """Send the watch's create request (raises when the stream takes no new watches)."""
        prefix = watch.prefix.encode()
        create = self.backend._rpc.WatchCreateRequest(
            key=prefix or b"\0", range_end=_prefix_end(prefix), start_revision=watch.next_revision
        )
        with self._lock:
            if not self._accepting:
                raise self._ended or _Transient("the watch stream ended")
            watch.stream = self
            self._pending.append(watch)
            self._queue.put(self.backend._rpc.WatchRequest(create_request=create))

    def abandon(self, watch: _EtcdWatch) -> bool:
        """Forget a watch whose create got no answer; False when the answer came meanwhile."""
        with self._lock:
            for i, item in enumerate(self._pending):
                if item is watch:
                    self._pending[i] = None
                    return True
        return False

    def remove(self, watch: _EtcdWatch) -> None:
        """Cancel a confirmed watch on etcd (a pending one is cancelled when its answer comes)."""
        with self._lock:
            if self._watches.get(watch.watch_id) is watch:
                del self._watches[watch.watch_id]
                self._send_cancel(watch.watch_id)
            idle = self._idle()
        if idle:
            self.end("no watches left")

    def retire(self) -> None:
        """Take no new watches (its token expired); the ones it has go on until they end."""
        with self._lock:
            self._accepting = False
            idle = self._idle()
        if idle:
            self.end("no watches left")

    def end(self, reason: str) -> None:
        """Cancel the stream; the watches still on it get `reason` as their error."""
        with self._lock:
            self._accepting = False
            if self._reason is None:
                self._reason = reason
        self._call.cancel()

    def _idle(self) -> bool:
        return not self._accepting and not self._watches and not any(self._pending)

    def _send_cancel(self, watch_id: int) -> None:
        rpc = self.backend._rpc
        self._queue.put(rpc.WatchRequest(cancel_request=rpc.WatchCancelRequest(watch_id=watch_id)))

    def _run(self) -> None:
        error: Any = None
        try:
            for response in self._call:
                self._handle(response)
        except self.backend._grpc.RpcError as exc:
            error = exc
        except Exception as exc:
            # A bug here must not leave the watches looking alive: end them all, saying why.
            log.exception("reading the etcd watch stream failed")
            self.end(f"confpy failed to read it: {exc!r}")
        finally:
            self._fail(error)

    def _fail(self, error: Any) -> None:
        """The stream ended: pending creates are retried, confirmed watches get one error each."""
        backend = self.backend
        with self._lock:
            reason = self._reason
        if reason is not None or error is None:
            ended: Exception = _Transient(reason or "etcd closed the watch stream")
        else:
            ended = backend._classify(error, self.index, "watch")
            reason = ended.cause if isinstance(ended, _Transient) else str(ended)
        with self._lock:
            self._accepting = False
            self._ended = ended
            pending = [w for w in self._pending if w is not None]
            watches = list(self._watches.values())
            self._pending.clear()
            self._watches.clear()
        self._queue.put(None)
        backend._stream_ended(self)
        for watch in pending:
            if isinstance(ended, _Transient):
                watch.settle(ended)
            else:
                watch.settle(backend._classify(error, self.index, f"watch on {watch.prefix}"))
        url = backend.nodes[self.index].url
        for watch in watches:
            backend._forget(watch)
            if reason is None:
                watch.deliver(BackendError(f"etcd closed the watch on {watch.prefix} without a reason"))
            else:
                watch.deliver(BackendError(f"etcd watch on {watch.prefix} at {url} broke: {reason}"))

    def _handle(self, response: Any) -> None:
        if response.created and not self._confirm(response):
            return
        with self._lock:
            watch = self._watches.get(response.watch_id)
        if watch is None:
            return
        if response.compact_revision:
            self._drop(watch, cancel=False)
            watch.deliver(RevisionCompactedError(watch.next_revision, int(response.compact_revision)))
        elif response.canceled:
            self._drop(watch, cancel=False)
            reason = response.cancel_reason or "no reason given"
            watch.deliver(BackendError(f"etcd cancelled the watch on {watch.prefix}: {reason}"))
        elif response.events:
            try:
                events = [_event(event) for event in response.events]
            except ValueDecodeError as exc:
                self._drop(watch, cancel=True)
                watch.deliver(exc)
                return
            watch.next_revision = events[-1].revision + 1
            watch.deliver(events)

    def _confirm(self, response: Any) -> bool:
        """Match a `created` answer to the oldest pending create; True when the watch is running."""
        watch_id = int(response.watch_id)
        with self._lock:
            watch = self._pending.popleft() if self._pending else None
            running = watch is not None and not watch.cancelled and not response.canceled
            if watch is not None and running:
                watch.watch_id = watch_id
                self._watches[watch_id] = watch
            elif not response.canceled:
                self._send_cancel(watch_id)
            idle = self._idle()
        if idle:
            self.end("no watches left")
        if watch is None or watch.cancelled:
            return False
        if response.canceled:
            reason = response.cancel_reason or "no reason given"
            if "auth" in reason:
                # The stream's token expired: log in again and open a stream with the new one.
                self.backend._token = None
                self.retire()
                watch.settle(_Transient(f"authentication expired ({reason})"))
            else:
                watch.settle(BackendError(f"etcd refused the watch on {watch.prefix}: {reason}"))
            return False
        watch.settle(None)
        return True

    def _drop(self, watch: _EtcdWatch, cancel: bool) -> None:
        with self._lock:
            if self._watches.get(watch.watch_id) is watch:
                del self._watches[watch.watch_id]
                if cancel:
                    self._send_cancel(watch.watch_id)
            idle = self._idle()
        self.backend._forget(watch)
        if idle:
            self.end("no watches left")


def _event(event: Any) -> Event:
    key = _decode_key(event.kv.key)
    value = None if event.type == event.DELETE else decode_value(key, event.kv.value)
    return Event(key, value, int(event.kv.mod_revision))
