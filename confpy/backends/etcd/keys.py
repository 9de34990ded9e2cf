"""etcd's keys as confpy sees them: a prefix as a key range, the consistent read of many prefixes,
and keys, values and watch events decoded to text. Shared by both transports' reads and watches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from confpy.backends.base import Event, Snapshot, decode_value
from confpy.errors import BackendError, ValueDecodeError

__all__ = [
    "MAX_TXN_OPS",
    "Compacted",
    "TxnRanges",
    "decode_key",
    "describe",
    "prefix_end",
    "read_pinned",
    "to_event",
]

#: etcd's default --max-txn-ops: a read of more prefixes is split into several transactions.
MAX_TXN_OPS = 128

TxnRanges = Callable[[list[str], int], tuple[int, Iterable[tuple[bytes, bytes]]]]
"""One transaction of ranges, one per prefix, at a revision (0: the current one): the revision it
read at, and every key and value it found."""


class Compacted(Exception):
    """A range at a pinned revision that etcd has compacted away."""


def describe(prefixes: Sequence[str]) -> str:
    """How an error names a read: its first three prefixes."""
    named = ", ".join(prefixes[:3]) + (f" and {len(prefixes) - 3} more prefixes" if len(prefixes) > 3 else "")
    return f"read of {named or 'nothing'}"


def read_pinned(prefixes: Sequence[str], revision: int | None, urls: str, txn: TxnRanges) -> Snapshot:
    """Every key under `prefixes` as one snapshot, at `revision` or at the current one.

    More prefixes than fit one transaction are read in several, all pinned to the revision the
    first one saw, so the result is consistent however many prefixes there are; a revision
    compacted meanwhile starts the read again (three times at most).
    """
    unique = list(dict.fromkeys(prefixes))
    batches = [unique[i : i + MAX_TXN_OPS] for i in range(0, len(unique), MAX_TXN_OPS)] or [[]]
    for _ in range(3):
        values: dict[str, str] = {}
        pinned = revision or 0
        try:
            for batch in batches:
                seen, kvs = txn(batch, pinned)
                pinned = pinned or seen
                for raw_key, raw_value in kvs:
                    key = decode_key(raw_key)
                    values[key] = decode_value(key, raw_value)
        except Compacted:
            if revision is not None:
                raise BackendError(
                    f"cannot read revision {revision} from etcd at {urls}: it has been compacted"
                ) from None
            continue
        return Snapshot(values, pinned)
    raise BackendError(f"etcd at {urls} compacted every revision confpy tried to read; try again")


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
