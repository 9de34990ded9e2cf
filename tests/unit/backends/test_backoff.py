"""The one backoff formula: doubling from `first`, capped, jitter added but never past the cap."""

from __future__ import annotations

import pytest

from confpy.backends.backoff import Backoff


def test_doubles_from_first_up_to_the_cap() -> None:
    backoff = Backoff(first=1.0, cap=30.0)
    assert [backoff.delay(n) for n in range(1, 8)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_jitter_is_added_within_its_bound_and_the_cap_holds() -> None:
    backoff = Backoff(first=0.1, cap=5.0, jitter=0.5)
    for _ in range(200):
        assert 0.1 <= backoff.delay(1) <= 0.6
        assert 0.4 <= backoff.delay(3) <= 0.9
        assert backoff.delay(12) == 5.0  # 0.1 * 2**11 is past the cap: jitter cannot lift it over


def test_a_process_that_retried_for_years_does_not_overflow() -> None:
    assert Backoff(first=0.1, cap=5.0).delay(10**9) == 5.0
    assert Backoff(first=0.1, cap=5.0).delay(0) == 0.1  # "no failure yet" waits as the first retry


class _Flaky(Exception):
    pass


def test_retry_calls_again_after_a_transient_error_with_the_backoffs_delays() -> None:
    calls: list[int] = []
    slept: list[float] = []

    def call() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _Flaky
        return "done"

    backoff = Backoff(first=0.5, cap=1.0)
    assert backoff.retry(call, transient=_Flaky, within=60.0, sleep=slept.append) == "done"
    assert len(calls) == 3 and slept == [0.5, 1.0]


def test_retry_gives_up_after_within_and_attempts_and_never_sleeps_past_within() -> None:
    calls: list[int] = []
    slept: list[float] = []

    def call() -> None:
        calls.append(1)
        raise _Flaky(len(calls))

    # within 0: the deadline is past after the first call, so only `attempts` keeps it going,
    # and no wait may run past the deadline.
    with pytest.raises(_Flaky) as raised:
        Backoff(first=0.5, cap=1.0).retry(call, transient=_Flaky, within=0.0, attempts=3, sleep=slept.append)
    assert raised.value.args == (3,) and slept == [0.0, 0.0]


def test_retry_lets_any_other_error_through_at_once() -> None:
    def call() -> None:
        raise KeyError("not transient")

    slept: list[float] = []
    with pytest.raises(KeyError):
        Backoff(first=0.5, cap=1.0).retry(call, transient=_Flaky, within=60.0, sleep=slept.append)
    assert slept == []
