"""The gateway's HTTP/1.1 client against canned answers from a socket on 127.0.0.1: what it reads
as a whole body, a stream of lines, a connection etcd closed, and something that is not HTTP."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from confpy.backends.etcd.http11 import Closed, Connection, ProtocolError


@pytest.fixture
def server() -> Iterator[tuple[socket.socket, list[bytes]]]:
    """A listening socket, and the answers to send, one per connection, each after its request.

    The teardown shuts the listener down, which wakes the blocked accept, and closes it only once
    the thread has returned: closed under a thread still in accept, its descriptor number went to
    the next test's server, whose connection this thread then took (CI, test_metrics)."""
    listener = socket.create_server(("127.0.0.1", 0))
    answers: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                peer, _ = listener.accept()
            except OSError:
                return
            with peer:
                data = b""
                while b"\r\n\r\n" not in data and (chunk := peer.recv(4096)):
                    data += chunk
                if answers:
                    peer.sendall(answers.pop(0))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener, answers
    listener.shutdown(socket.SHUT_RDWR)
    thread.join(5)
    assert not thread.is_alive(), "the canned server did not stop"
    listener.close()


def answer(server: tuple[socket.socket, list[bytes]], *raw: bytes) -> Connection:
    listener, answers = server
    answers.extend(raw)
    conn = Connection("127.0.0.1", listener.getsockname()[1], 5.0, None)
    conn.request("/v3/kv/range", b"{}", {"Content-Type": "application/json"})
    return conn


def test_a_body_with_a_length(server: tuple[socket.socket, list[bytes]]) -> None:
    conn = answer(server, b'HTTP/1.1 200 OK\r\nContent-Length: 7\r\nX-A: b\r\n\r\n{"a":1}')
    response = conn.response()
    assert (response.status, response.headers["x-a"], response.read()) == (200, "b", b'{"a":1}')
    assert response.reusable
    conn.close()


def test_a_chunked_stream_is_read_line_by_line_across_chunks(
    server: tuple[socket.socket, list[bytes]],
) -> None:
    body = b'4\r\n{"a"\r\n3\r\n:1}\r\n5\r\n\n{}\n\n\r\n0\r\n\r\n'
    conn = answer(server, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    response = conn.response()
    assert [response.readline() for _ in range(4)] == [b'{"a":1}\n', b"{}\n", b"\n", b""]
    conn.close()


def test_a_body_without_length_is_read_to_the_end_and_ends_the_connection(
    server: tuple[socket.socket, list[bytes]],
) -> None:
    # Go's answer to plain HTTP on a TLS port.
    conn = answer(
        server, b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
    )
    response = conn.response()
    assert response.status == 400 and b"HTTPS server" in response.read()
    assert not response.reusable
    conn.close()


@pytest.mark.parametrize(
    "raw",
    [
        b"",  # closed before answering: a kept-alive connection to retry once
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}",  # a body cut short
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{}",  # a chunk cut short
        b"HTTP/1.1 200 OK\r\nContent-",  # headers cut short
    ],
)
def test_an_answer_cut_short_is_closed_never_a_whole_one(
    server: tuple[socket.socket, list[bytes]], raw: bytes
) -> None:
    conn = answer(server, raw)
    with pytest.raises(Closed):
        conn.response().read()
    conn.close()


@pytest.mark.parametrize("raw", [b"SSH-2.0-OpenSSH_9.2\r\n", b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n"])
def test_what_is_not_http_is_a_protocol_error(server: tuple[socket.socket, list[bytes]], raw: bytes) -> None:
    conn = answer(server, raw)
    with pytest.raises(ProtocolError):
        conn.response()
    conn.close()
