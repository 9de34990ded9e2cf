"""Both etcd transports, for the system tests (backends, sidecar commands) that go through the
interface they share."""

from __future__ import annotations

import pytest

from confpy.config.settings import ETCD_TRANSPORTS


@pytest.fixture(params=ETCD_TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> list[str]:
    """The flags that select one etcd transport (gRPC, or etcd's JSON gateway over HTTP)."""
    return ["-etcd-transport", str(request.param)]
