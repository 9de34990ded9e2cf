"""The redis backend: keys read exactly as confd's redis client reads them.

confd (backends/redis/client.go, GetValues), for each resource key:
- `-separator S` (default `/`): a key `/app/db` is the redis key `app{S}db` (leading `/` dropped),
  except with `/`, where it stays `/app/db` (`transform`); a redis key read back has `S` replaced
  by `/` and a leading `/` added (`clean`).
- `TYPE key`: a string is that one value (`GET`); a hash gives one key per field
  (`/app/db` + `/field`); anything else (no key) is a "directory": `SCAN MATCH key{S}*` (`*` for
  `/`) and `GET` of each match, keeping strings only (a hash below a directory is skipped).

`-node host:port[/db]` (a path to a unix socket works too) and `-password` (or, as confd takes it,
`-client-key`). redis-py is imported only when this backend is used.

Watch: keyspace notifications (confd's WatchPrefix), which the server sends only when
`notify-keyspace-events` enables them: one pattern subscription per watched prefix,
`__keyspace@DB__:PREFIX*`, on its own connection and thread; each notification asks watch mode to
re-read (an empty batch), and so does the subscription once in place, after every reconnect too.
With notifications off, `watch` raises WatchUnavailableError saying how to enable them.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Sequence
from typing import Any

from confpy.backends.base import Backend, EventCallback, ReadSequence, Snapshot, Watch, decode_value
from confpy.errors import BackendError, ConfigError, WatchUnavailableError

__all__ = ["RedisBackend", "missing_notifications", "parse_redis_node"]

#: What confd's `DialConnectTimeout`/`DialReadTimeout` are (one second): a dead server fails fast.
_TIMEOUT = 1.0
_SCAN_COUNT = 1000
#: The keyspace-notification classes a confd key's change can raise: K (keyspace channels), g
#: (del, expire, rename), $ (string commands), h (hash commands), x (expired). confd's WatchPrefix
#: reacts to the same commands but "expired"; `A` is redis's alias for every class but K and E.
_NEEDED = "Kg$hx"
_ALL_CLASSES = "g$lshzxetdmn"
#: A subscription idles on a blocking read: TCP keepalive notices a server that vanished silently.
_KEEPALIVE = {socket.TCP_KEEPIDLE: 10, socket.TCP_KEEPINTVL: 5, socket.TCP_KEEPCNT: 3}


def missing_notifications(flags: str) -> str:
    """The classes of `_NEEDED` that a `notify-keyspace-events` value lacks ('' when none)."""
    have = set(flags) | (set(_ALL_CLASSES) if "A" in flags else set())
    return "".join(c for c in _NEEDED if c not in have)


def _glob_escape(text: str) -> str:
    """`text` matched literally by a redis glob pattern."""
    return "".join("\\" + c if c in "\\*?[]" else c for c in text)


def parse_redis_node(node: str) -> tuple[str, int | None, int]:
    """`host:port[/db]` or a unix socket path -> (host or socket path, port or None, db).

    confd's tryConnect: the text after the first `/` is the database when it is a number; a path
    that exists is a unix socket. confpy refuses what confd would dial and fail on, in one line.
    """
    address, db = node, 0
    head, slash, tail = node.partition("/")
    if slash and head and tail.isdigit():
        address, db = head, int(tail)
    if os.path.exists(address):
        return address, None, db
    host, colon, port = address.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"-node {node!r}: expected host:port or host:port/db for the redis backend")
    return host.strip("[]"), int(port), db


class RedisBackend(Backend):
    """Connects lazily to the first of `nodes` that answers (confd's order)."""

    name = "redis"
    prefix_reads = False

    def __init__(
        self,
        nodes: Sequence[str],
        *,
        password: str | None = None,
        username: str | None = None,
        separator: str = "",
    ) -> None:
        self.nodes = [parse_redis_node(n) for n in (nodes or ["127.0.0.1:6379"])]
        self.password = password
        self.username = username
        self.separator = separator or "/"
        self._client: Any = None
        self._reads = ReadSequence()

    # --- confd's key mapping ------------------------------------------------------------------

    def transform(self, key: str) -> str:
        """confd's transform: a confd key to a redis key."""
        if self.separator == "/":
            return key
        return key.removeprefix("/").replace("/", self.separator)

    def clean(self, key: str) -> str:
        """confd's clean: a redis key to a confd key."""
        return ("/" + key if not key.startswith("/") else key).replace(self.separator, "/")

    # --- connection ---------------------------------------------------------------------------

    def connect(self, *, timeout: float | None = _TIMEOUT) -> Any:
        """A new client on the first node that answers PING (confd's tryConnect)."""
        import redis

        errors = []
        for address, port, db in self.nodes:
            options: dict[str, Any] = {
                "db": db,
                "password": self.password,
                "username": self.username,
                "socket_connect_timeout": _TIMEOUT,
                "socket_timeout": timeout,
                "protocol": 2,  # confd's redigo speaks RESP2; its replies to PSUBSCRIBE are plain
                "socket_keepalive": True,
                "socket_keepalive_options": _KEEPALIVE,
            }
            if port is None:
                client = redis.Redis(unix_socket_path=address, **options)
                where = address
            else:
                client = redis.Redis(host=address, port=port, **options)
                where = f"{address}:{port}"
            try:
                client.ping()
            except redis.AuthenticationError as exc:
                client.close()
                errors.append(
                    f"{where}: authentication failed ({exc})"
                    if self.password
                    else f"{where}: the server wants a password (-password)"
                )
                continue
            except redis.RedisError as exc:
                client.close()
                errors.append(f"{where}: {exc}")
                continue
            return client
        raise BackendError("cannot connect to redis: " + "; ".join(errors))

    def _connected(self) -> Any:
        if self._client is None:
            self._client = self.connect()
        return self._client

    # --- reading ------------------------------------------------------------------------------

    def read(self, prefixes: Sequence[str]) -> Snapshot:
        import redis

        client = self._connected()
        try:
            with self._reads.next() as number:
                return Snapshot(self._get_values(client, prefixes), number)
        except redis.RedisError as exc:
            self.reconnect()
            raise BackendError(f"reading from redis failed: {exc}") from None

    def _get_values(self, client: Any, keys: Sequence[str]) -> dict[str, str]:
        """confd's GetValues, step for step."""
        import redis

        found: dict[str, str] = {}
        for key in keys:
            key = key.replace("/*", "")
            k = self.transform(key)
            kind = client.type(k).decode()
            if kind == "string":
                raw = client.get(k)
                if raw is not None:
                    found[key] = decode_value(key, raw)
            elif kind == "hash":
                for field, raw in client.hscan_iter(k, match="*", count=_SCAN_COUNT):
                    name = self.clean(k + "/" + field.decode("utf-8", "replace"))
                    found[name] = decode_value(name, raw)
            else:
                pattern = "*" if key == "/" else self.transform("%s/*").replace("%s", k, 1)
                for item in client.scan_iter(match=pattern, count=_SCAN_COUNT):
                    try:
                        raw = client.get(item)
                    except redis.ResponseError:  # a hash or list below a directory: confd skips it
                        continue
                    if raw is not None:
                        name = self.clean(item.decode("utf-8", "replace"))
                        found[name] = decode_value(name, raw)
        return found

    # --- watching ---------------------------------------------------------------------------

    def watch(self, prefix: str, start_revision: int, callback: EventCallback) -> Watch:
        """Subscribe to the keyspace notifications of every key under `prefix` (see the module)."""
        import redis

        client = self.connect(timeout=None)  # the subscription waits for messages as long as it takes
        db = client.connection_pool.connection_kwargs.get("db", 0)
        # confd's WatchPrefix: transform(prefix) + "*"; the root is every key, as GetValues' SCAN "*".
        pattern = f"__keyspace@{db}__:{'' if prefix == '/' else _glob_escape(self.transform(prefix))}*"
        try:
            self._check_notifications(client)
            connection = client.connection_pool.get_connection()
            connection.send_command("PSUBSCRIBE", pattern)
            connection.read_response()
        except WatchUnavailableError:
            client.close()
            raise
        except redis.RedisError as exc:
            client.close()
            raise BackendError(f"subscribing to redis keyspace notifications failed: {exc}") from None
        stopped = threading.Event()

        def listen() -> None:
            try:
                while not stopped.is_set():
                    message = connection.read_response()
                    if not stopped.is_set() and message and message[0] == b"pmessage":
                        callback([])
            except Exception as exc:  # whatever ends the read ends the watch, and says so
                if not stopped.is_set():
                    callback(BackendError(f"redis keyspace subscription lost: {exc}"))
            finally:
                connection.disconnect()
                client.close()

        callback([])  # in place: re-read once, so nothing changed before it is missed
        threading.Thread(target=listen, name=f"confpy-redis-watch-{prefix}", daemon=True).start()

        def cancel() -> None:
            stopped.set()
            connection.disconnect()  # ends the blocking read

        return Watch(cancel=cancel)

    def _check_notifications(self, client: Any) -> None:
        """WatchUnavailableError unless `notify-keyspace-events` sends what the watch needs."""
        import redis

        try:
            flags = str(client.config_get("notify-keyspace-events").get("notify-keyspace-events", ""))
        except redis.ResponseError:  # CONFIG refused (an ACL, a renamed command): trust the user
            return
        missing = missing_notifications(flags)
        if missing:
            where = client.connection_pool.connection_kwargs
            raise WatchUnavailableError(
                f"redis keyspace notifications are off at "
                f"{where.get('path') or '{}:{}'.format(where.get('host'), where.get('port'))} "
                f"(notify-keyspace-events is {flags!r}, the watch needs {', '.join(missing)}): "
                "enable them with `CONFIG SET notify-keyspace-events KA` or "
                "`notify-keyspace-events KA` in redis.conf"
            )

    def reconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def close(self) -> None:
        self.reconnect()
