"""The helpers every message uses: the close name for "did you mean", a reason that is never empty."""

from __future__ import annotations

from confpy.errors import closest, reason


def test_closest_ignores_case_and_dashes_then_spelling() -> None:
    known = ["check_cmd", "toUpper", "log-level", "nodes"]
    assert closest("toupper", known) == "toUpper"
    assert closest("log_level", known) == "log-level"
    assert closest("chek_cmd", known) == "check_cmd"
    assert closest("nodess", known) == "nodes"
    assert closest("zzz", known) is None


def test_reason_says_what_an_exception_without_a_message_means() -> None:
    # Go's engine said "error calling seq: " for a MemoryError.
    assert reason(MemoryError()) == "out of memory"
    assert reason(KeyError()) == "KeyError"
    assert reason(ValueError("bad")) == "bad"
