"""The etcd v3 backend: consistent reads, watches that report every failure, bounded retries.

The only module that imports the etcd client (`pyetcd`, from etcd-sdk-python), and it uses only
its generated gRPC stubs: endpoint choice, retries, auth tokens and the watch stream are done here,
because the library's own versions lock a failed node out for minutes, drop error details, and let
a watch that etcd cancelled look alive. Both imports happen when a backend is made, so
`import confpy` stays fast.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import tenacity

from confpy.backends.base import Backend, Event, EventCallback, Snapshot, Watch, decode_value
from confpy.errors import BackendError, ConfigError, RevisionCompactedError

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
    return decode_value(repr(raw)[1:], raw)


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


class EtcdBackend(Backend):
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
        possibly wedged one. Streams still running keep their old connection until they end; many
        streams failing together (an etcd restart) cause one reconnect per RECONNECT_INTERVAL."""
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
        """Stream changes under `prefix` from `start_revision` on, in a thread of its own.

        Returns once etcd has confirmed the watch; raises BackendError when that does not happen
        within `connect_timeout` (retrying, on every endpoint). Any later failure arrives as one
        `callback(BackendError)`; a start revision etcd has compacted as `RevisionCompactedError`.
        """
        stream = _EtcdWatch(self, prefix, start_revision, callback)
        with self._lock:
            if self._closed:
                raise BackendError("the etcd backend is closed")
            self._watches.add(stream)
        stream.start()
        return Watch(stream.cancel)

    def _forget(self, stream: _EtcdWatch) -> None:
        with self._lock:
            self._watches.discard(stream)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            watches = list(self._watches)
        for stream in watches:
            stream.cancel()
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
        if any(word in lowered for word in ("ssl", "handshake", "certificate", "tsi_")):
            # A wrong CA, or a client certificate the server refuses: retrying cannot help.
            ca = f"the CA in {self._ca}" if self._ca else "a CA the system trusts"
            hint = next((h.format(ca=ca) for word, h in _TLS_HINTS if word in lowered), "")
            return BackendError(f"TLS with etcd at {url} failed: {hint + ': ' if hint else ''}{details}")
        if code in (codes.UNAVAILABLE, codes.DEADLINE_EXCEEDED):
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

        backoff = tenacity.wait_exponential(multiplier=0.05, max=1.0)

        def wait(state: tenacity.RetryCallState) -> float:
            left = self.connect_timeout - (state.seconds_since_start or 0.0)
            return max(0.0, min(backoff(state), left))

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
    """One watch stream on its own thread; `cancel()` guarantees no callback afterwards."""

    def __init__(
        self, backend: EtcdBackend, prefix: str, start_revision: int, callback: EventCallback
    ) -> None:
        self._backend = backend
        self._prefix = prefix
        self._next_revision = start_revision
        self._callback = callback
        # Held while the callback runs, so cancel() returns only after an in-flight callback.
        self._lock = threading.RLock()
        self._cancelled = False
        self._finished = False
        self._stop = threading.Event()
        # The current gRPC call, and the event that ends its request stream.
        self._call: Any = None
        self._call_done = threading.Event()
        self._index = 0

    def start(self) -> None:
        """Set the watch up here, then stream on the thread."""
        started = time.monotonic()
        try:
            responses = self._backend._retrying(sleep=self._stop.wait)(self._open)
        except _Transient as exc:
            self._finish()
            raise self._backend._unreachable(exc, started) from None
        except _Stopped:
            self._finish()
            raise BackendError("the etcd backend was closed while a watch was set up") from None
        except BaseException:
            self._finish()
            raise
        self._thread = threading.Thread(
            target=self._run, args=(responses,), name=f"confpy-etcd-watch {self._prefix}", daemon=True
        )
        self._thread.start()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
        self._stop.set()
        self._end_call()
        self._backend._forget(self)

    def _end_call(self) -> None:
        with self._lock:
            call, done = self._call, self._call_done
        done.set()
        if call is not None:
            call.cancel()

    def _deliver(self, item: list[Event] | BackendError) -> None:
        with self._lock:
            if self._cancelled or self._finished:
                return
            if isinstance(item, BackendError):
                self._finished = True
            self._callback(item)

    @staticmethod
    def _requests(first: Any, done: threading.Event) -> Iterator[Any]:
        # Keep the request side open until the call ends: etcd keeps a half-closed stream open
        # anyway, and gRPC's thread that reads this iterator must not block past the call.
        yield first
        done.wait()

    def _run(self, responses: Iterator[Any]) -> None:
        try:
            self._stream(responses)
        except BackendError as exc:
            self._deliver(exc)
        finally:
            self._finish()

    def _finish(self) -> None:
        self._stop.set()
        self._end_call()
        self._backend._forget(self)

    def _open(self) -> Iterator[Any]:
        """Start the stream and wait (at most `timeout`) until etcd confirms the watch."""
        backend, rpc = self._backend, self._backend._rpc
        if self._stop.is_set():
            raise _Stopped
        self._index, channel = backend._endpoint()
        prefix = self._prefix.encode()
        create = rpc.WatchCreateRequest(
            key=prefix or b"\0", range_end=_prefix_end(prefix), start_revision=self._next_revision
        )
        timed_out = threading.Event()
        done = threading.Event()
        try:
            metadata = backend._metadata(channel)
            call = rpc.WatchStub(channel).Watch(
                self._requests(rpc.WatchRequest(create_request=create), done), metadata=metadata
            )
            with self._lock:
                self._call, self._call_done = call, done
            if self._stop.is_set():
                raise _Stopped
            responses: Iterator[Any] = iter(call)

            def expire() -> None:
                timed_out.set()
                call.cancel()

            timer = threading.Timer(backend.timeout, expire)
            timer.start()
            try:
                first = next(responses)
            finally:
                timer.cancel()
        except backend._grpc.RpcError as exc:
            done.set()
            if self._stop.is_set():
                raise _Stopped from None
            if timed_out.is_set():
                backend._failover(self._index)
                raise _Transient(f"no answer within {backend.timeout:g} s") from None
            raise backend._classify(exc, self._index, f"watch on {self._prefix}") from None
        if first.canceled:
            # End this stream now: a retry replaces self._call, and this one's request thread
            # would otherwise wait for `done` forever.
            done.set()
            call.cancel()
            reason = first.cancel_reason or "no reason given"
            if "auth" in reason:
                backend._token = None
                raise _Transient(f"authentication expired ({reason})")
            raise BackendError(f"etcd refused the watch on {self._prefix}: {reason}")
        return self._chain(first, responses)

    @staticmethod
    def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
        yield first
        yield from rest

    def _stream(self, responses: Iterator[Any]) -> None:
        backend = self._backend
        try:
            for response in responses:
                if not self._handle(response):
                    return
        except backend._grpc.RpcError as exc:
            if self._stop.is_set():
                return
            error = backend._classify(exc, self._index, f"watch on {self._prefix}")
            cause = error.cause if isinstance(error, _Transient) else str(error)
            self._deliver(
                BackendError(
                    f"etcd watch on {self._prefix} at {backend.nodes[self._index].url} broke: {cause}"
                )
            )
            return
        self._deliver(BackendError(f"etcd closed the watch on {self._prefix} without a reason"))

    def _handle(self, response: Any) -> bool:
        """Deliver one response; False once the watch has ended."""
        if response.compact_revision:
            self._deliver(RevisionCompactedError(self._next_revision, int(response.compact_revision)))
            return False
        if response.canceled:
            reason = response.cancel_reason or "no reason given"
            self._deliver(BackendError(f"etcd cancelled the watch on {self._prefix}: {reason}"))
            return False
        if not response.events:
            return True
        events = []
        for event in response.events:
            key = _decode_key(event.kv.key)
            value = None if event.type == event.DELETE else decode_value(key, event.kv.value)
            events.append(Event(key, value, int(event.kv.mod_revision)))
        self._next_revision = events[-1].revision + 1
        self._deliver(events)
        return True
