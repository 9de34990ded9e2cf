"""What the JSON-gateway transport makes of the ssl module's errors: the error the user reads."""

from __future__ import annotations

import ssl

import pytest

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
