"""etcd's keys as confpy sees them: a prefix as a key range, and keys, values and watch events
decoded to text. Shared by the backend's reads and its watch stream."""

from __future__ import annotations

from typing import Any

from confpy.backends.base import Event, decode_value
from confpy.errors import ValueDecodeError

__all__ = ["decode_key", "prefix_end", "to_event"]


def prefix_end(prefix: bytes) -> bytes:
    """etcd's range end for "every key starting with prefix"."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\0"
    return stripped[:-1] + bytes([stripped[-1] + 1])


def decode_key(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # The message names the key as Python shows bytes; built only here, as it is slow.
        raise ValueDecodeError(repr(raw)[1:]) from None


def to_event(event: Any) -> Event:
    """One event of etcd's watch stream (an `mvccpb.Event`) as confpy's `Event`."""
    key = decode_key(event.kv.key)
    value = None if event.type == event.DELETE else decode_value(key, event.kv.value)
    return Event(key, value, int(event.kv.mod_revision))
