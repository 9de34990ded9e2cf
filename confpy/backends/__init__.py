"""Backends: where keys come from, the first step of the flow (backend -> store -> engine ->
writer -> commands). Only the `backends/etcd/` package imports the etcd client and gRPC.

Each backend implements `base.Backend` (and `base.LeaseBackend` where keys can live on a lease:
etcd, memory); which one a run uses is the settings' choice (`confpy.config.backend.open_backend`).
To write a backend, subclass `Backend` (a consistent `read` returning a `Snapshot`, and, if it
can stream changes, `watch` delivering `Event` batches to an `EventCallback` and returning a
`Watch`), and turn raw bytes into text with `decode_value`. The backends themselves are imported
only by the runs that use them: `confpy.MemoryBackend` (or `confpy.testing`'s) is the memory one.

Its layer: below `confpy.config`, above `confpy.store`.
"""

from __future__ import annotations

from confpy.backends.base import (
    Backend,
    Event,
    EventCallback,
    LeaseBackend,
    Snapshot,
    Watch,
    decode_value,
)

__all__ = [
    "Backend",
    "Event",
    "EventCallback",
    "LeaseBackend",
    "Snapshot",
    "Watch",
    "decode_value",
]
