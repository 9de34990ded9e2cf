"""The HTTP/1.1 that etcd's JSON gateway needs, over a socket: POST requests on a kept-alive
connection, and answers with a Content-Length, chunked (a watch's stream, read line by line), or
read to the end (Go's plain-HTTP answer on a TLS port).

`http.client` would do, but it imports the email parser and `ssl` with it: ~11 ms and 68 M
instructions of every `-onetime` (issue 16, benchmarks/RESULTS.md), where confd takes 32 ms in
all. `ssl` is imported here only for an `https://` node: the caller passes its context.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl
    from io import BufferedReader

__all__ = ["Closed", "Connection", "ProtocolError", "Response"]

#: Bounds on what is read as a status or header line, and on the number of header lines: what
#: answers is then HTTP or an error, never an endless read of something else.
_MAX_LINE = 65536
_MAX_HEADERS = 100


class Closed(ConnectionError):
    """The server closed the connection before it answered (a kept-alive one it timed out, say)."""


class ProtocolError(Exception):
    """What answered is not HTTP/1.x."""


class Connection:
    """One connection to `host`:`port`, with TLS when `context` is given; `connect` opens it
    (TCP, then the TLS handshake), `request` sends, `response` reads the answer."""

    def __init__(self, host: str, port: int, timeout: float | None, context: ssl.SSLContext | None) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.context = context
        self.sock: socket.socket | None = None
        self._file: BufferedReader | None = None

    def connect(self) -> None:
        # An ASCII host as bytes: getaddrinfo would encode a str with the idna codec, whose import
        # is 1 ms of a -onetime.
        host: str | bytes = self.host.encode("ascii") if self.host.isascii() else self.host
        sock = socket.create_connection((host, self.port), self.timeout)  # type: ignore[arg-type]
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.context is not None:
                sock = self.context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self._file = sock.makefile("rb")

    def request(self, path: str, body: bytes, headers: Mapping[str, str]) -> None:
        """Send `POST path` with `body` (connecting first if need be)."""
        if self.sock is None:
            self.connect()
        assert self.sock is not None
        host = f"[{self.host}]" if ":" in self.host else self.host
        lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{self.port}", f"Content-Length: {len(body)}"]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def response(self) -> Response:
        """The answer's status and headers; its body is the `Response`'s to read."""
        assert self._file is not None
        status_line = self._file.readline(_MAX_LINE + 1)
        if not status_line:
            raise Closed("the server closed the connection without an answer")
        version, _, rest = status_line.decode("latin-1").partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise ProtocolError(f"not an HTTP/1.x answer: {status_line[:40]!r}")
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADERS):
            line = self._file.readline(_MAX_LINE + 1)
            if not line.endswith(b"\n"):
                raise Closed("the connection ended in the answer's headers")
            if line in (b"\r\n", b"\n"):
                return Response(int(code), headers, self._file)
            name, colon, value = line.decode("latin-1").partition(":")
            if not colon:
                raise ProtocolError(f"not an HTTP header line: {line[:40]!r}")
            headers[name.strip().lower()] = value.strip()
        raise ProtocolError(f"more than {_MAX_HEADERS} header lines")

    def close(self) -> None:
        file, sock, self._file, self.sock = self._file, self.sock, None, None
        if file is not None:
            file.close()
        if sock is not None:
            sock.close()


class Response:
    """An answer's status, headers, and body: `read()` it all, or `readline()` a chunked stream.
    A body cut short is `Closed` too (a truncated answer is never taken for a whole one)."""

    def __init__(self, status: int, headers: Mapping[str, str], file: BufferedReader) -> None:
        self.status = status
        self.headers = headers
        self._file = file
        self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        self._length = int(length) if length is not None and length.isdigit() else None
        self._buffer = b""
        self._done = False
        #: False when the connection cannot carry another request (read to its end, or asked to close).
        self.reusable = (self.chunked or self._length is not None) and headers.get(
            "connection", ""
        ).lower() != "close"

    def read(self) -> bytes:
        """The whole body."""
        if self.chunked:
            parts = [self._buffer]
            while (chunk := self._chunk()) is not None:
                parts.append(chunk)
            self._buffer = b""
            return b"".join(parts)
        if self._length is None:
            return self._file.read()
        data = self._file.read(self._length)
        if len(data) < self._length:
            raise Closed("the connection ended in the middle of the answer")
        return data

    def readline(self) -> bytes:
        """The chunked body's next line (with its newline); b"" once it has ended."""
        while b"\n" not in self._buffer:
            chunk = self._chunk()
            if chunk is None:
                line, self._buffer = self._buffer, b""
                return line
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line + b"\n"

    def _chunk(self) -> bytes | None:
        """The next chunk of a chunked body, None after the last."""
        if self._done:
            return None
        size_line = self._file.readline(_MAX_LINE + 1)
        if not size_line.endswith(b"\n"):
            raise Closed("the connection ended in the middle of the answer")
        size_text = size_line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ProtocolError(f"not a chunk size: {size_text[:40]!r}") from None
        if size == 0:
            while self._file.readline(_MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            self._done = True
            return None
        data = self._file.read(size)
        if len(data) < size or not self._file.readline(_MAX_LINE + 1).endswith(b"\n"):
            raise Closed("the connection ended in the middle of the answer")
        return data
