"""The etcd backend's watches: every watch of a backend multiplexed on one gRPC Watch stream.

`WatchHub.watch` returns once etcd has confirmed a watch (retrying across endpoints through the
backend's `Connection`); afterwards each failure reaches the watch's callback as one error, and
the caller (runtime/watch.py) resumes with a new watch. A watch etcd cancels (an expired token,
a compacted revision) is reported, never left looking alive.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
from collections.abc import Iterator
from typing import Any

from confpy.backends.base import Event, EventCallback, Watch
from confpy.backends.etcd.channel import Connection, Stopped, Transient
from confpy.backends.etcd.keys import prefix_end, to_event
from confpy.errors import BackendError, RevisionCompactedError, ValueDecodeError

__all__ = ["WatchHub"]

log = logging.getLogger("confpy")


class WatchHub:
    """The watches of one backend, the stream new ones go on, and every stream still running."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._lock = threading.Lock()
        self._watches: set[_EtcdWatch] = set()
        # The stream new watches go on, every stream still running, and the lock that makes sure
        # only one caller opens a new stream.
        self._stream: _WatchStream | None = None
        self._streams: set[_WatchStream] = set()
        self._stream_lock = threading.Lock()
        self._closed = False

    def watch(self, prefix: str, start_revision: int, callback: EventCallback) -> Watch:
        """Stream changes under `prefix` from `start_revision` on, on the shared watch stream.

        Returns once etcd has confirmed the watch; raises BackendError when that does not happen
        within `connect_timeout` (retrying, on every endpoint). Any later failure arrives as one
        `callback(BackendError)`; a start revision etcd has compacted as `RevisionCompactedError`.
        """
        watch = _EtcdWatch(self, prefix, start_revision, callback)
        with self._lock:
            if self._closed:
                raise BackendError("the etcd backend is closed")
            self._watches.add(watch)
        self.connection.set_up(lambda: self._establish(watch), watch.stop, watch.cancel)
        return Watch(watch.cancel)

    def _establish(self, watch: _EtcdWatch) -> None:
        """One attempt: send the create request and wait (at most `timeout`) for etcd's answer."""
        timeout = self.connection.timeout
        watch.settled.clear()
        if watch.stop.is_set():
            raise Stopped
        stream = self._watch_stream(watch.prefix)
        stream.add(watch)
        if not watch.settled.wait(timeout) and stream.abandon(watch):
            # The stream is stuck: end it (its watches resume elsewhere) and try the next endpoint.
            self.connection.failover(stream.index)
            stream.end(f"no answer within {timeout:g} s")
            raise Transient(f"no answer within {timeout:g} s")
        watch.settled.wait()
        if watch.outcome is not None:
            raise watch.outcome

    def _watch_stream(self, prefix: str) -> _WatchStream:
        """The stream that takes new watches, opened on the current endpoint if there is none."""
        conn = self.connection
        with self._stream_lock:
            stream = self._stream
            if stream is not None and stream.accepting:
                return stream
            index, channel = conn.endpoint()
            try:
                metadata = conn.metadata(channel)
            except conn.grpc.RpcError as exc:
                raise conn.classify(exc, index, f"watch on {prefix}") from None
            stream = _WatchStream(self, index, channel, metadata)
            with self._lock:
                closed = self._closed
                if not closed:
                    self._stream = stream
                    self._streams.add(stream)
            stream.start()
            if closed:
                stream.end("the etcd backend was closed")
                raise Stopped
            return stream

    def stream_ended(self, stream: _WatchStream) -> None:
        with self._lock:
            self._streams.discard(stream)
            if self._stream is stream:
                self._stream = None

    def forget(self, watch: _EtcdWatch) -> None:
        with self._lock:
            self._watches.discard(watch)

    def close(self) -> None:
        """Cancel every watch and end every stream; no watch can be made afterwards."""
        with self._lock:
            self._closed = True
            watches = list(self._watches)
            streams = list(self._streams)
        for watch in watches:
            watch.cancel()
        for stream in streams:
            stream.end("the etcd backend was closed")


class _EtcdWatch:
    """One watch on the backend's shared stream; `cancel()` guarantees no callback afterwards."""

    def __init__(self, hub: WatchHub, prefix: str, start_revision: int, callback: EventCallback) -> None:
        self.hub = hub
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
        self.settle(Stopped())
        stream = self.stream
        if stream is not None:
            stream.remove(self)
        self.hub.forget(self)

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

    def __init__(self, hub: WatchHub, index: int, channel: Any, metadata: Any) -> None:
        self.hub = hub
        self.connection: Connection = hub.connection
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
        self._call = self.connection.rpc.WatchStub(channel).Watch(self._requests(), metadata=metadata)

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
        create = self.connection.rpc.WatchCreateRequest(
            key=prefix or b"\0", range_end=prefix_end(prefix), start_revision=watch.next_revision
        )
        with self._lock:
            if not self._accepting:
                raise self._ended or Transient("the watch stream ended")
            watch.stream = self
            self._pending.append(watch)
            self._queue.put(self.connection.rpc.WatchRequest(create_request=create))

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
        rpc = self.connection.rpc
        self._queue.put(rpc.WatchRequest(cancel_request=rpc.WatchCancelRequest(watch_id=watch_id)))

    def _run(self) -> None:
        error: Any = None
        try:
            for response in self._call:
                self._handle(response)
        except self.connection.grpc.RpcError as exc:
            error = exc
        except Exception as exc:
            # A bug here must not leave the watches looking alive: end them all, saying why.
            log.exception("reading the etcd watch stream failed")
            self.end(f"confpy failed to read it: {exc!r}")
        finally:
            self._fail(error)

    def _fail(self, error: Any) -> None:
        """The stream ended: pending creates are retried, confirmed watches get one error each."""
        conn = self.connection
        with self._lock:
            reason = self._reason
        if reason is not None or error is None:
            ended: Exception = Transient(reason or "etcd closed the watch stream")
        else:
            ended = conn.classify(error, self.index, "watch")
            reason = ended.cause if isinstance(ended, Transient) else str(ended)
        with self._lock:
            self._accepting = False
            self._ended = ended
            pending = [w for w in self._pending if w is not None]
            watches = list(self._watches.values())
            self._pending.clear()
            self._watches.clear()
        self._queue.put(None)
        self.hub.stream_ended(self)
        for watch in pending:
            if isinstance(ended, Transient):
                watch.settle(ended)
            else:
                watch.settle(conn.classify(error, self.index, f"watch on {watch.prefix}"))
        url = conn.nodes[self.index].url
        for watch in watches:
            self.hub.forget(watch)
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
                events = [to_event(event) for event in response.events]
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
                self.connection.forget_token()
                self.retire()
                watch.settle(Transient(f"authentication expired ({reason})"))
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
        self.hub.forget(watch)
        if idle:
            self.end("no watches left")
