"""What the JSON-gateway transport makes of the ssl module's errors (the error the user reads),
and of the bytes it reads."""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Callable
from typing import Any

import pytest

from confpy.backends.etcd.gateway import _json, from_b64
from confpy.backends.etcd.gateway_backend import GatewayBackend
from confpy.errors import EndpointError

_CLOSED = "TLS/SSL connection has been closed (EOF) (_ssl.c:992)"


@pytest.mark.parametrize("error", [ssl.SSLZeroReturnError(6, _CLOSED), ssl.SSLEOFError(8, "EOF")])
def test_an_eof_in_the_handshake_is_no_tls_and_after_it_a_refused_client(error: ssl.SSLError) -> None:
    # Debian's Python 3.11.2 says ZeroReturn, without a reason, where an https:// node speaks plain
    # HTTP (the fresh machine's make test); pyenv's 3.11.7 says UNEXPECTED_EOF_WHILE_READING.
    backend = GatewayBackend(["https://127.0.0.1:1"])
    try:
        failed = backend._connection.failed
        in_handshake = failed(0, error, handshake=True)
        assert type(in_handshake) is EndpointError
        assert "no TLS answer (is the endpoint http://?)" in str(in_handshake)
        after = failed(0, error, handshake=False)
        assert type(after) is EndpointError and "it wants a client certificate" in str(after)
    finally:
        backend.close()


_EVENT = (
    b'{"result":{"header":{"revision":"12"},"events":[{"kv":{"key":"L2E=","mod_revision":"12",'
    b'"value":"eA=="}}]}}\n'
)


@pytest.mark.parametrize(
    "data",
    [
        _EVENT,
        b'  {"a": [1, 2.5, null, true, "\\u00e9"]} \r\n',
        '{"k": "\u00e9\u4e2d"}'.encode(),
        b"[]",
        b"",
        b"\n",
        b'{"a": 1} {"b": 2}',
        b'{"a": 1} x',
        b'{"a": ',
        b"Client sent an HTTP request to an HTTPS server.\n",
        b'{"a": "\xff"}',
        b"nul",
    ],
)
def test_a_json_answer_reads_as_json_loads_reads_it(data: bytes) -> None:
    _reads_as(_json, json.loads, data)


@pytest.mark.parametrize("text", ["", "L2E=", "eA==", "  eA==\n", "e A==", "eA", "\u00e9"])
def test_base64_decodes_as_b64decode_does(text: str) -> None:
    _reads_as(from_b64, base64.b64decode, text)


def _reads_as(ours: Callable[[Any], object], stdlib: Callable[[Any], object], data: object) -> None:
    """`ours` gives what the standard library's reader gives for `data`, or fails as it does."""
    try:
        expected = stdlib(data)
    except ValueError:
        with pytest.raises(ValueError):
            ours(data)
    else:
        assert ours(data) == expected
