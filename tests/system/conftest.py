"""Both etcd transports, for the system tests (backends, sidecar commands) that go through the
interface they share."""

from __future__ import annotations

import pytest

from confpy.config.settings import ETCD_TRANSPORTS


@pytest.fixture(params=[name for name in ETCD_TRANSPORTS if name != "auto"])
def transport(request: pytest.FixtureRequest) -> list[str]:
    """The flags that select one etcd transport (gRPC, or etcd's JSON gateway over HTTP; `auto`,
    the default, is one of them, and what every other test runs on)."""
    return ["-etcd-transport", str(request.param)]
