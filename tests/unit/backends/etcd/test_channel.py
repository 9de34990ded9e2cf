"""What the etcd connection makes of gRPC's errors: a retry, or the error the user reads."""

from __future__ import annotations

from typing import Any

from confpy.backends.etcd.backend import EtcdBackend
from confpy.backends.etcd.channel import Transient
from confpy.errors import BackendError


class _RpcError(Exception):
    """A gRPC error as the channel raises it (a pure unit: `classify` only reads code and details)."""

    def __init__(self, code: Any, details: str) -> None:
        super().__init__(details)
        self._code, self._details = code, details

    def code(self) -> Any:
        return self._code

    def details(self) -> str:
        return self._details


def test_a_tcp_connect_cut_short_is_retried_not_called_tls() -> None:
    # Seen under load against a plain http:// etcd: "TLS with etcd at http://... failed: ... tcp
    # handshaker shutdown", and the run failed at once instead of retrying.
    import grpc

    backend = EtcdBackend(["http://127.0.0.1:1"])
    try:
        details = "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: "
        details += "tcp handshaker shutdown"
        classify = backend._connection.classify
        outcome = classify(_RpcError(grpc.StatusCode.UNKNOWN, details), 0, "read")
        assert type(outcome) is Transient, outcome
        tls = classify(_RpcError(grpc.StatusCode.UNAVAILABLE, "Ssl handshake failed"), 0, "read")
        assert isinstance(tls, BackendError) and str(tls).startswith(
            "TLS with etcd at http://127.0.0.1:1 failed"
        )
    finally:
        backend.close()
