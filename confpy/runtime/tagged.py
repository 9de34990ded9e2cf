"""Watch callbacks turned into items, each tagged with its key and the watch's generation.

The key is the consumer's: a prefix (`confpy wait`), or a backend and a prefix (the watch engine).

The watch engine and `confpy wait` both replace broken watches with new ones and consume the
callbacks' items one at a time (`confpy wait` from a queue, the engine under its lock). A watch
that was replaced may still deliver: its items carry the generation it was opened in, and the
consumer drops those of an older one.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from confpy.backends.base import Event, EventCallback
from confpy.errors import BackendError

__all__ = ["Batch", "Failure", "deliver_to"]

_K = TypeVar("_K", bound=Hashable)


# Plain classes: watch mode builds them before its first render, where a frozen dataclass's
# generated methods (~0.4 ms each) and a NamedTuple's (~0.1 ms) are compiled at every start.
class Batch(Generic[_K]):
    """Events of the watch on `key` opened in `generation`."""

    __slots__ = ("events", "generation", "key")

    def __init__(self, key: _K, generation: int, events: list[Event]) -> None:
        self.key, self.generation, self.events = key, generation, events


class Failure(Generic[_K]):
    """The end of the watch on `key` opened in `generation`."""

    __slots__ = ("error", "generation", "key")

    def __init__(self, key: _K, generation: int, error: BackendError) -> None:
        self.key, self.generation, self.error = key, generation, error


def deliver_to(put: Callable[[Batch[_K] | Failure[_K]], object], key: _K, generation: int) -> EventCallback:
    """The callback for a watch on `key` opened in `generation`: each delivery becomes an item."""

    def deliver(batch: list[Event] | BackendError) -> None:
        if isinstance(batch, BackendError):
            put(Failure(key, generation, batch))
        else:
            put(Batch(key, generation, batch))

    return deliver
