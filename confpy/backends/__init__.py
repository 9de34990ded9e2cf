"""Backends: where keys come from. Only `backends/etcd.py` imports the etcd client.

Each implements `base.Backend`; which one a run uses is the settings' choice
(`confpy.config.backend.open_backend`).
"""

from __future__ import annotations

from confpy.backends.base import Backend, Event, EventCallback, Snapshot, Watch
from confpy.backends.memory import MemoryBackend

__all__ = ["Backend", "Event", "EventCallback", "MemoryBackend", "Snapshot", "Watch"]
