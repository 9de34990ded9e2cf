"""Backends: where keys come from. Only `backends/etcd.py` imports the etcd client."""

from confpy.backends.base import Backend, Event, EventCallback, Snapshot, Watch
from confpy.backends.memory import MemoryBackend

__all__ = ["Backend", "Event", "EventCallback", "MemoryBackend", "Snapshot", "Watch"]
