"""The zookeeper backend: znodes read exactly as confd's zookeeper client reads them.

confd (backends/zookeeper/client.go, GetValues and nodeWalk), for each resource key: a znode
without children is one key, its data the value; a znode with children is walked, and only its
leaves (znodes without children) become keys: the data of a znode that has children is not
read. `-node host:port` is repeatable (one ensemble). kazoo is imported only when this backend
is used. Each read starts with a `sync`, so a session that moved to a lagging server still reads
every write committed before it.

Watch (confd's WatchPrefix and watch): a data watch and a child watch on every znode under the
prefix (an existence watch where the prefix does not exist yet), re-armed over the whole subtree
after each one fires, since zookeeper's watches fire once. Each firing asks watch mode to re-read
(an empty batch), and so does the watch once armed; a suspended or lost session ends the watch,
and watch mode resumes it with a full re-read.

Better than confd: a key that does not exist reads as no keys (confd's nodeWalk fails the whole
run with "zk: node does not exist"), a znode deleted during the walk is skipped (confd
dereferences a nil stat and crashes), and an unreachable ensemble is one error line after
`-connect-timeout` (confd's zk.Connect returns at once and every read then hangs), as is a call
the connection drops under (`_answer`).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from typing import Any

from confpy.backends.base import Backend, EventCallback, ReadSequence, Snapshot, Watch, decode_value
from confpy.errors import BackendError, ConfigError

__all__ = ["ZookeeperBackend", "parse_zookeeper_node"]


def parse_zookeeper_node(node: str) -> str:
    """`host:port`, as confd passes it to zk.Connect; anything else is refused in one line."""
    host, colon, port = node.rpartition(":")
    if not colon or not host or "/" in node or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"-node {node!r}: expected host:port for the zookeeper backend")
    return node


def _znode(key: str) -> str:
    """confd's `strings.Replace(v, "/*", "", -1)`, and no trailing `/` (zookeeper refuses it)."""
    return key.replace("/*", "").rstrip("/") or "/"


def _answer(call: Any, timeout: float) -> Any:
    """The result of kazoo's asynchronous `call`, within `timeout` seconds (BackendError after).

    kazoo's plain calls wait for ever: one made while the connection is down (it dropped between
    `_connected()` and the call, say in the middle of setting a watch up) is queued until the
    connection is back, so an outage hung the caller, and at start the whole service with it.
    """
    from kazoo.handlers.threading import KazooTimeoutError

    try:
        return call.get(timeout=timeout)
    except KazooTimeoutError:
        raise BackendError(f"zookeeper did not answer within {timeout:g} s") from None


def _kazoo_log() -> logging.Logger:
    """kazoo's messages in confpy's log, its per-socket warnings only at debug: confpy says once
    what a lost connection means for the watch."""
    kazoo = logging.getLogger("confpy.kazoo")
    kazoo.setLevel(
        logging.DEBUG if logging.getLogger("confpy").isEnabledFor(logging.DEBUG) else logging.ERROR
    )
    return kazoo


class ZookeeperBackend(Backend):
    """One kazoo session to the ensemble `nodes`, opened at the first read."""

    name = "zookeeper"
    prefix_reads = False

    def __init__(self, nodes: Sequence[str], *, connect_timeout: float = 5.0) -> None:
        self.hosts = ",".join(parse_zookeeper_node(n) for n in (nodes or ["127.0.0.1:2181"]))
        self.connect_timeout = connect_timeout
        self._client: Any = None
        self._reads = ReadSequence()
        self._lock = threading.Lock()  # watches and reads connect from several threads

    def _connected(self) -> Any:
        with self._lock:
            return self._connect()

    def _connect(self) -> Any:
        client = self._client
        if client is not None and not client.connected:
            # Disconnected, kazoo's calls would wait for it to come back: a new session instead,
            # which fails within -connect-timeout while the ensemble is down. Its watches end
            # (their listener hears so) and watch mode resumes them on the new one.
            self._client = None
            client.stop()
            client.close()
        if self._client is None:
            from kazoo.client import KazooClient
            from kazoo.handlers.threading import KazooTimeoutError

            client = KazooClient(
                hosts=self.hosts, timeout=max(self.connect_timeout, 1.0), logger=_kazoo_log()
            )
            try:
                client.start(timeout=self.connect_timeout)
            except KazooTimeoutError:
                client.stop()
                client.close()
                raise BackendError(
                    f"cannot reach zookeeper at {self.hosts} within {self.connect_timeout:g} s"
                ) from None
            self._client = client
        return self._client

    def read(self, prefixes: Sequence[str]) -> Snapshot:
        from kazoo.exceptions import KazooException

        client = self._connected()
        found: dict[str, str] = {}
        try:
            with self._reads.next() as number:
                _answer(client.sync_async("/"), self.connect_timeout)
                for key in prefixes:
                    self._walk(client, _znode(key), found)
        except KazooException as exc:
            raise BackendError(f"reading from zookeeper failed: {exc!r}") from None
        return Snapshot(found, number)

    def _walk(self, client: Any, path: str, found: dict[str, str]) -> None:
        """confd's nodeWalk: leaves are keys; a missing or vanished znode is skipped."""
        from kazoo.exceptions import NoNodeError

        timeout = self.connect_timeout
        try:
            children = _answer(client.get_children_async(path), timeout)
            if not children:
                found[path] = decode_value(path, _answer(client.get_async(path), timeout)[0] or b"")
                return
            for name in children:
                self._walk(client, ("" if path == "/" else path) + "/" + name, found)
        except NoNodeError:
            return

    def watch(self, prefix: str, start_revision: int, callback: EventCallback) -> Watch:
        """Watch every znode under `prefix` (see the module); the first call comes once armed."""
        from kazoo.exceptions import KazooException

        client = self._connected()
        subtree = _Subtree(client, _znode(prefix), callback, self.connect_timeout)
        try:
            subtree.arm()
        except KazooException as exc:
            subtree.cancel()
            raise BackendError(f"watching zookeeper failed: {exc!r}") from None
        except BackendError:
            subtree.cancel()
            raise
        callback([])  # armed: re-read once, so nothing changed before is missed
        subtree.start()
        return Watch(cancel=subtree.cancel)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.stop()
            client.close()


class _Subtree:
    """The watches of one prefix: re-armed on a thread of its own after each one fires."""

    def __init__(self, client: Any, root: str, callback: EventCallback, timeout: float) -> None:
        self.client, self.root, self.callback, self.timeout = client, root, callback, timeout
        self.fired: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.stopped = threading.Event()
        client.add_listener(self._state)

    def _state(self, state: str) -> None:
        """kazoo's connection thread: a suspended or lost session may have missed changes."""
        if state != "CONNECTED":
            self.fired.put(f"zookeeper session {state.lower()}")

    def _watcher(self, event: Any) -> None:
        self.fired.put("")

    def arm(self) -> None:
        """Set the watches on every znode of the subtree (kazoo keeps one per znode and kind)."""
        from kazoo.exceptions import NoNodeError

        pending = [self.root]
        while pending:
            path = pending.pop()
            if _answer(self.client.exists_async(path, watch=self._watcher), self.timeout) is None:
                continue
            try:
                children = _answer(self.client.get_children_async(path, watch=self._watcher), self.timeout)
            except NoNodeError:  # deleted since: its existence watch fires
                continue
            pending.extend(("" if path == "/" else path) + "/" + name for name in children)

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"confpy-zk-watch-{self.root}", daemon=True).start()

    def _run(self) -> None:
        from kazoo.exceptions import KazooException

        while True:
            reasons = [self.fired.get()]
            while not self.fired.empty():  # a burst of firings: one re-arm, one re-read
                reasons.append(self.fired.get())
            if None in reasons or self.stopped.is_set():
                return
            try:
                for reason in filter(None, reasons):
                    raise BackendError(reason)
                self.arm()
            except (KazooException, BackendError) as exc:
                self.cancel()
                error = (
                    exc
                    if isinstance(exc, BackendError)
                    else BackendError(f"watching zookeeper failed: {exc!r}")
                )
                self.callback(error)
                return
            self.callback([])

    def cancel(self) -> None:
        """No call follows; the server's watches stay until they fire (zookeeper cannot remove them)."""
        self.stopped.set()
        self.client.remove_listener(self._state)
        self.fired.put(None)
