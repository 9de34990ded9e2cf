"""A worker's condition variable for its one waiting thread (confpy.runtime.worker._Wakeup)."""

from __future__ import annotations

import threading

import pytest

from confpy.runtime.worker import _Wakeup


def test_a_notify_before_the_wait_is_not_lost_and_is_used_once() -> None:
    wakeup = _Wakeup()
    with wakeup:
        wakeup.notify_all()
        wakeup.notify_all()  # owed once, not twice
        wakeup.wait(None)  # returns: a wake-up was owed
        assert not wakeup._owed
        assert wakeup._signal.locked()  # the next wait sleeps again


def test_a_notify_from_another_thread_wakes_the_waiter() -> None:
    wakeup = _Wakeup()
    waiting = threading.Event()
    done: list[bool] = []

    def waiter() -> None:
        with wakeup:
            waiting.set()
            wakeup.wait(None)
            done.append(True)

    thread = threading.Thread(target=waiter)
    thread.start()
    assert waiting.wait(10)
    with wakeup:  # taken only once the waiter sleeps (wait released it)
        wakeup.notify_all()
    thread.join(10)
    assert done == [True]


class _NotifiedAtTheTimeout:
    """The signal lock of a wait whose timeout passes as a notify comes: acquire fails, and the
    notify (under the state lock, which the waiter has not taken back yet) releases the lock."""

    def __init__(self, wakeup: _Wakeup) -> None:
        self.wakeup = wakeup
        self.lock = wakeup._signal

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not blocking or timeout == -1:
            return self.lock.acquire(blocking)
        assert not self.lock.acquire(False)
        self.wakeup._owed = True  # notify_all, as the notifying thread runs it
        self.lock.release()
        return False

    def release(self) -> None:
        self.lock.release()

    def locked(self) -> bool:
        return self.lock.locked()


def test_a_notify_that_lands_after_the_timeout_is_taken_back() -> None:
    wakeup = _Wakeup()
    signal = wakeup._signal
    wakeup._signal = _NotifiedAtTheTimeout(wakeup)  # type: ignore[assignment]
    with wakeup:
        wakeup.wait(0.5)
        assert not wakeup._owed
        assert signal.locked()  # without taking it back, every later wait would return at once


class _Interrupted(Exception):
    pass


class _Scripted:
    """The signal lock of a wait that is notified while it sleeps and then interrupted (an
    exception raised in the waiting thread, as an async one is), before it records the wake-up;
    later blocking acquires are refused (they would sleep with a wake-up owed)."""

    def __init__(self, wakeup: _Wakeup) -> None:
        self.wakeup = wakeup
        self.lock = wakeup._signal
        self.slept = False

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not blocking:
            return self.lock.acquire(False)
        assert not self.slept, "a wait slept while a wake-up was owed"
        self.slept = True
        self.wakeup._owed = True  # notify_all, as the notifying thread runs it
        self.lock.release()
        self.lock.acquire()  # the waiter wakes...
        raise _Interrupted  # ...and is interrupted

    def release(self) -> None:
        self.lock.release()


def test_a_wake_up_cut_short_by_an_exception_is_still_owed_to_the_next_wait() -> None:
    wakeup = _Wakeup()
    signal = wakeup._signal
    wakeup._signal = _Scripted(wakeup)  # type: ignore[assignment]
    with wakeup:
        with pytest.raises(_Interrupted):
            wakeup.wait(None)
        assert wakeup._owed
        wakeup.wait(None)  # returns at once, without sleeping: the wake-up was owed
        assert not wakeup._owed
        assert signal.locked()
