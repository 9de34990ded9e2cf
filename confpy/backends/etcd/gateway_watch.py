"""The watches of the etcd backend over etcd's JSON gateway: one streaming `POST /v3/watch` each.

HTTP/1.1 cannot multiplex, so each watch has its own connection (`HttpConnection.connect`) and a
thread that sleeps in `recv` until etcd sends a line: an idle watch costs no wake-ups. The
answers, as verified with curl against Debian's etcd 3.4.23 (and by
tests/system/backends/test_etcd.py over both transports):

- the request body is one `{"create_request": {"key", "range_end", "start_revision"}}` (keys
  base64); the answer is chunked, one JSON object per line: `{"result": {"header": {...},
  "created": true}}` first, then `{"result": {"events": [{"type": "DELETE"?, "kv": {"key",
  "mod_revision": "5", "value"?}}]}}` (a PUT has no "type", an empty value no "value");
- a start revision etcd has compacted: `created`, then `{"result": {"canceled": true,
  "compact_revision": "3"}}`; a stream's error (a member that lost its leader, with the hasleader
  header): `{"error": {"grpc_code": 14, "message": "etcdserver: no leader", ...}}`, read by
  `HttpConnection.answer` as every other error;
- a token etcd no longer accepts: `created` and `canceled` together, with an auth reason.

What gRPC's keepalive pings do for its stream (notice a frozen or cut-off member), a status
request does here: every KEEPALIVE seconds, while watches stream, one to each endpoint they use,
with hasleader; no answer within the request timeout, or "no leader", ends its streams with one
error each, and watch mode resumes them (on the next endpoint). As in `watch.WatchHub`, `watch`
returns once etcd has confirmed the watch; afterwards each failure reaches the callback as one
error, and a watch etcd cancels is reported, never left looking alive.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Iterable
from typing import Any

from confpy.backends.base import Event, EventCallback, Watch, decode_value
from confpy.backends.etcd.channel import Stopped, Transient
from confpy.backends.etcd.gateway import HttpConnection, b64, from_b64
from confpy.backends.etcd.http11 import Connection, ProtocolError, Response
from confpy.backends.etcd.keys import decode_key, prefix_end
from confpy.errors import BackendError, RevisionCompactedError, ValueDecodeError

__all__ = ["KEEPALIVE", "GatewayWatches"]

log = logging.getLogger("confpy")

#: Seconds between the status requests to an endpoint that has watch streams (gRPC pings every 10 s).
KEEPALIVE = 10.0
#: TCP keepalive of a stream's socket (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT): probes after 10
#: idle seconds, then every 5 s, ending the stream after 3 unanswered (a cut no status request sees).
_TCP_KEEPALIVE = (10, 5, 3)


class GatewayWatches:
    """The watch streams of one `GatewayBackend`, and the thread that checks their endpoints."""

    def __init__(self, connection: HttpConnection) -> None:
        self.connection = connection
        self._lock = threading.Lock()
        self._streams: set[_Stream] = set()
        self._closed = False
        self._checking = False
        self._woken = threading.Condition(self._lock)

    def watch(self, prefix: str, start_revision: int, callback: EventCallback) -> Watch:
        """Stream changes under `prefix` from `start_revision` on, on a stream of its own.

        Returns once etcd has confirmed the watch; raises BackendError when that does not happen
        within `connect_timeout` (retrying, on every endpoint). Any later failure arrives as one
        `callback(BackendError)`; a start revision etcd has compacted as `RevisionCompactedError`.
        """
        stream = _Stream(self, prefix, start_revision, callback)
        self.connection.set_up(stream.open, stream.stop, stream.cancel)
        return Watch(stream.cancel)

    def started(self, stream: _Stream) -> bool:
        """Count a confirmed stream in (False once closed), and make sure its endpoint is checked."""
        with self._lock:
            if self._closed:
                return False
            self._streams.add(stream)
            if not self._checking:
                self._checking = True
                threading.Thread(target=self._check, name="confpy-etcd-alive", daemon=True).start()
        return True

    def ended(self, stream: _Stream) -> None:
        with self._lock:
            self._streams.discard(stream)

    def _check(self) -> None:
        """Every KEEPALIVE s, a status request to each endpoint with streams; ends when none are left."""
        while True:
            with self._lock:
                self._woken.wait(KEEPALIVE)
                if self._closed or not self._streams:
                    self._checking = False
                    return
                by_endpoint: dict[int, list[_Stream]] = {}
                for stream in self._streams:
                    by_endpoint.setdefault(stream.index, []).append(stream)
            for index, streams in by_endpoint.items():
                reason = self._status(index)
                if reason is not None:
                    self.connection.failover(index)
                    for stream in streams:
                        stream.end(reason)

    def _status(self, index: int) -> str | None:
        """Why endpoint `index` cannot serve watches (no answer, no leader), or None."""
        conn = self.connection
        try:
            conn.post(index, "/v3/maintenance/status", {}, conn.headers(index, login=False), "status request")
        except Transient as exc:
            return f"{exc.cause} to a status request"
        except BackendError as exc:
            return str(exc)
        return None

    def close(self) -> None:
        """End every stream without callbacks; no watch can be made afterwards."""
        with self._lock:
            self._closed = True
            streams = list(self._streams)
            self._woken.notify_all()
        for stream in streams:
            stream.cancel()


class _Stream:
    """One watch and its streaming request; `cancel()` guarantees no callback afterwards."""

    def __init__(
        self, hub: GatewayWatches, prefix: str, start_revision: int, callback: EventCallback
    ) -> None:
        self.hub = hub
        self.connection = hub.connection
        self.prefix = prefix
        self.next_revision = start_revision
        self._callback = callback
        self.index = -1
        # Held while the callback runs, so cancel() returns only after an in-flight callback.
        self._lock = threading.RLock()
        self._cancelled = False
        self._finished = False
        self._reason: str | None = None
        # Set by cancel(): ends the set-up's retries and backoff sleeps.
        self.stop = threading.Event()
        self._conn: Connection | None = None
        self._socket: socket.socket | None = None

    def open(self) -> None:
        """One attempt: connect to the current endpoint, send the create request and read etcd's
        confirmation (each within `timeout`); then the reader thread takes the stream over."""
        conn = self.connection
        if self.stop.is_set():
            raise Stopped
        index = self.index = conn.current()
        what = f"watch on {self.prefix}"
        headers = conn.headers(index)
        key = self.prefix.encode()
        create = {"key": b64(key or b"\0"), "range_end": b64(prefix_end(key))}
        if self.next_revision:
            create["start_revision"] = str(self.next_revision)
        http_conn = conn.connect(index, conn.timeout)
        handshake = True
        try:
            http_conn.connect()
            handshake = False
            body = json.dumps({"create_request": create}).encode()
            http_conn.request("/v3/watch", body, headers)
            response = http_conn.response()
            first = response.readline() if response.status == 200 and response.chunked else response.read()
        except (OSError, ProtocolError) as exc:
            http_conn.close()
            raise conn.failed(index, exc, handshake) from None
        try:
            result = self._result(conn.answer(index, response.status, first, what))
            if result.get("canceled") and not result.get("compact_revision"):
                reason = str(result.get("cancel_reason") or "no reason given")
                if "auth" in reason:  # the token expired: log in again
                    conn.forget_token()
                    raise Transient(f"authentication expired ({reason})")
                raise BackendError(f"etcd refused the watch on {self.prefix}: {reason}")
        except BaseException:
            http_conn.close()
            raise
        sock = http_conn.sock
        assert sock is not None
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        idle, interval, count = _TCP_KEEPALIVE
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, interval)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, count)
        sock.settimeout(None)  # the reader sleeps until a line comes; the hub's checks bound the wait
        with self._lock:
            if self._cancelled:
                http_conn.close()
                raise Stopped
            self._conn, self._socket = http_conn, sock
        if not self.hub.started(self):
            self.cancel()
            raise Stopped
        name = f"confpy-etcd-watch-{self.prefix}"
        threading.Thread(target=self._run, args=(response, result), name=name, daemon=True).start()

    def _result(self, answer: Any) -> dict[str, Any]:
        result = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(result, dict):
            raise self.connection.not_etcd(self.index)
        return result

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
        self.stop.set()
        self._shut()
        self.hub.ended(self)

    def end(self, reason: str) -> None:
        """End the stream: its watch gets `reason` as its error."""
        with self._lock:
            if self._reason is None:
                self._reason = reason
        self._shut()

    def _shut(self) -> None:
        """Wake the reader out of `recv`; it closes the connection (closing here would race it)."""
        sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):  # already shut, or never connected
                sock.shutdown(socket.SHUT_RDWR)

    def _run(self, response: Response, first: dict[str, Any]) -> None:
        what = f"watch on {self.prefix}"
        cut: str | None = None  # how the connection ended, if etcd or the network ended it
        try:
            self._handle(first)
            while not self._finished:
                line = response.readline()
                if not line:
                    cut = "etcd closed the stream"
                    break
                if line.strip():
                    self._handle(self._result(self.connection.answer(self.index, 200, line, what)))
        except (OSError, ProtocolError) as exc:  # a reset, or a chunk cut short
            cut = str(exc) or type(exc).__name__
        except Transient as exc:  # etcd's error line, one a retry can cure (no leader)
            cut = exc.cause
        except BackendError as exc:
            self._deliver(exc)
        except Exception as exc:
            # A bug here must not leave the watch looking alive: end it, saying why.
            log.exception("reading the etcd watch stream failed")
            self._deliver(BackendError(f"confpy failed to read the etcd watch on {self.prefix}: {exc!r}"))
        finally:
            assert self._conn is not None
            self._conn.close()
            self.hub.ended(self)
        with self._lock:
            if self._cancelled or self._finished:
                return
            checked, reason = self._reason is not None, self._reason or cut
        if not checked:  # the hub's check, which ended it, failed over already
            self.connection.failover(self.index)
        url = self.connection.nodes[self.index].url
        self._deliver(BackendError(f"etcd watch on {self.prefix} at {url} broke: {reason}"))

    def _handle(self, result: dict[str, Any]) -> None:
        if result.get("compact_revision"):
            compacted = int(result["compact_revision"])
            self._deliver(RevisionCompactedError(self.next_revision, compacted))
        elif result.get("canceled"):
            reason = result.get("cancel_reason") or "no reason given"
            self._deliver(BackendError(f"etcd cancelled the watch on {self.prefix}: {reason}"))
        elif result.get("events"):
            try:
                events = list(_events(result["events"]))
            except ValueDecodeError as exc:
                self._deliver(exc)
                return
            self.next_revision = events[-1].revision + 1
            self._deliver(events)

    def _deliver(self, item: list[Event] | BackendError) -> None:
        with self._lock:
            if self._cancelled or self._finished:
                return
            if isinstance(item, BackendError):
                self._finished = True
                self._shut()
            self._callback(item)


def _events(events: Iterable[dict[str, Any]]) -> Iterable[Event]:
    """The gateway's events as confpy's (`keys.to_event`'s, from JSON)."""
    decode = from_b64
    for event in events:
        kv = event["kv"]
        key = decode_key(decode(kv["key"]))
        deleted = event.get("type") == "DELETE"
        value = None if deleted else decode_value(key, decode(kv.get("value", "")))
        yield Event(key, value, int(kv["mod_revision"]))
