"""The one backoff formula: doubling from `first`, capped, jitter added but never past the cap."""

from __future__ import annotations

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
