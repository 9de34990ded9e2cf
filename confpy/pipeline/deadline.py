"""Stopping a render that runs past its deadline, from outside the thread that runs it.

A Python thread cannot be killed, and rendering in a subprocess would cost a fork per render
(2-4 ms measured here, more than most renders take). Instead one watchdog thread raises
`RenderTimeout` inside the rendering thread when its deadline passes (CPython's
`PyThreadState_SetAsyncExc`). The exception arrives between two bytecodes, so it stops any loop
of Jinja's or the Go engine's, whatever the template does; a single C call that never returns
(`range(10**12) | sum`) is the one thing it cannot interrupt.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time

__all__ = ["RenderTimeout", "deadline"]


class RenderTimeout(BaseException):
    """Raised inside a render that ran out of time.

    A BaseException, so that no `except Exception` in a template engine or a template function
    can swallow it; `deadline`'s caller turns it into a message.
    """


class _Entry:
    """One armed deadline. Its own lock orders "fire" against "done": the watchdog raises only
    while it holds it and the render has not finished, so the exception can reach the rendering
    thread only inside the block or inside `disarm`'s hold of this lock, never inside the
    watchdog's shared lock (an exception raised just after a lock is taken leaves it taken, and
    a shared one taken for good would stop every later render in the process)."""

    __slots__ = ("done", "fired", "lock", "thread")

    def __init__(self, thread: int) -> None:
        self.thread = thread
        self.done = False
        self.fired = False
        self.lock = threading.Lock()


def _raise_in(thread: int, exc: type[BaseException] | None) -> None:
    """Make `thread` raise `exc` at its next bytecode; None cancels one not yet raised."""
    import ctypes  # only when a deadline passes: not on every render

    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread), None if exc is None else ctypes.py_object(exc)
    )


class _Watchdog:
    """One thread for every deadline: sleeps until the earliest one, fires those that passed."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Entry]] = []
        self._order = itertools.count()
        self._done = 0  # entries disarmed but still in the heap
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float) -> _Entry:
        entry = _Entry(threading.get_ident())
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + seconds, next(self._order), entry))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="confpy-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is entry:  # earlier than what the watchdog sleeps for
                self._cond.notify()
        return entry

    def disarm(self, entry: _Entry) -> None:
        with entry.lock:
            entry.done = True
            if entry.fired:  # the exception may still be pending: it must not hit what runs next
                _raise_in(entry.thread, None)
                return
        with self._cond:  # nothing can be pending for this thread now: done was set first
            self._done += 1
            if self._done > 64 and self._done * 2 > len(self._heap):
                self._heap = [item for item in self._heap if not item[2].done]
                heapq.heapify(self._heap)
                self._done = 0

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].done or self._heap[0][0] <= now):
                    _, _, entry = heapq.heappop(self._heap)
                    with entry.lock:
                        if entry.done:
                            self._done -= 1  # counted by disarm, now or in a moment
                        else:
                            entry.fired = True
                            _raise_in(entry.thread, RenderTimeout)
                self._cond.wait(self._heap[0][0] - now if self._heap else None)


_watchdog = _Watchdog()


class deadline:
    """Raise RenderTimeout in the calling thread if the block is still running after `seconds`.

    A class, not a @contextmanager generator: every render enters one, on the path from a put
    to its file.
    """

    __slots__ = ("_entry", "_seconds")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    def __enter__(self) -> None:
        self._entry = _watchdog.arm(self._seconds)

    def __exit__(self, *exc: object) -> None:
        _watchdog.disarm(self._entry)
