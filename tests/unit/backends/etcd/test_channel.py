"""What the etcd connection makes of gRPC's errors: a retry, or the error the user reads."""

from __future__ import annotations

from typing import Any

from confpy.backends.etcd.backend import EtcdBackend
from confpy.backends.etcd.channel import Transient
from confpy.errors import EXIT_CONFIG, BackendError, EndpointError


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


def test_a_tls_handshake_cut_short_is_retried_and_a_server_without_tls_is_not() -> None:
    # Seen in the Swarm stack while etcd members start or a node rejoins: `confpy exec --register`
    # exited on these instead of failing over and retrying.
    import grpc

    codes = grpc.StatusCode
    backend = EtcdBackend(["https://127.0.0.1:1"])
    try:
        classify = backend._connection.classify
        last = "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:1: "
        for details in ["Handshake read failed (Endpoint closing)", "Handshake write failed"]:
            outcome = classify(_RpcError(codes.UNAVAILABLE, last + details), 0, "read")
            assert type(outcome) is Transient, (details, outcome)
        plain = classify(
            _RpcError(codes.UNAVAILABLE, last + "Handshake read failed (Socket closed)"), 0, "read"
        )
        assert type(plain) is EndpointError and "no TLS answer (is the endpoint http://?)" in str(plain)
    finally:
        backend.close()


def test_an_answer_that_says_the_configuration_is_wrong_is_an_endpoint_error() -> None:
    # Each was a BackendError (exit 1, and retried forever in -watch before the first start).
    import grpc

    codes = grpc.StatusCode
    backend = EtcdBackend(["http://127.0.0.1:1"], username="app", password="pw")
    try:
        classify = backend._connection.classify
        for code, details in [
            (codes.UNAVAILABLE, "Trying to connect an http1.x server; Failed parsing HTTP/2"),
            (codes.UNIMPLEMENTED, "unknown service etcdserverpb.KV"),
            (codes.UNAVAILABLE, "Ssl handshake failed: CERTIFICATE_VERIFY_FAILED"),
            (codes.INVALID_ARGUMENT, "etcdserver: authentication failed, invalid user ID or password"),
        ]:
            outcome = classify(_RpcError(code, details), 0, "read")
            assert type(outcome) is EndpointError and outcome.exit_status == EXIT_CONFIG, (details, outcome)
        for code, details in [(codes.UNAVAILABLE, "connection refused"), (codes.DEADLINE_EXCEEDED, "")]:
            assert type(classify(_RpcError(code, details), 0, "read")) is Transient
        denied = classify(_RpcError(codes.PERMISSION_DENIED, "etcdserver: permission denied"), 0, "read")
        assert type(denied) is BackendError
    finally:
        backend.close()
