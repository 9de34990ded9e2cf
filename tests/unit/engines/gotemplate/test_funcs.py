"""The built-in functions' Go semantics on Python values."""

from __future__ import annotations

from typing import Any

import pytest

from confpy.engines.gotemplate.funcs import (
    GoError,
    eq,
    html,
    index,
    is_true,
    js,
    length,
    lt,
    slice_,
    urlquery,
)
from confpy.engines.gotemplate.funcs import call as call_fn
from confpy.engines.gotemplate.gotypes import StringSlice
from confpy.store import KVPair


@pytest.mark.parametrize(
    ("value", "truth"),
    [
        (None, False),
        (False, False),
        (0, False),
        (0.0, False),
        ("", False),
        ([], False),
        ({}, False),
        (True, True),
        (-1, True),
        (0.5, True),
        ("0", True),
        ([0], True),
        ({"": None}, True),
        (KVPair("", ""), True),
    ],
)
def test_truth(value: Any, truth: bool) -> None:
    assert is_true(value) is truth


def test_eq_rules() -> None:
    assert eq(1, 2, 3, 1)
    assert eq("a", "a")
    assert not eq(None, "a")
    assert eq(None, None)
    assert eq(KVPair("a", "b"), KVPair("a", "b"))
    with pytest.raises(GoError, match="incompatible types for comparison"):
        eq(1, 1.0)
    with pytest.raises(GoError, match="missing argument for comparison"):
        eq(1)
    with pytest.raises(GoError, match=r"non-comparable type \[a\]: \[\]string"):
        eq(StringSlice(["a"]), StringSlice(["a"]))


def test_lt_rules() -> None:
    assert lt(1, 2) and lt("a", "b") and lt(1.5, 2.5)
    for a, b, message in [
        (True, False, "invalid type"),
        (1, "a", "incompatible types"),
        ([1], 1, "invalid type"),
    ]:
        with pytest.raises(GoError, match=message):
            lt(a, b)


def test_index() -> None:
    data = {"a": [1, {"b": "x"}]}
    assert index(data, "a", 1, "b") == "x"
    assert index(data, "missing") is None
    assert index("abc", 1) == 98
    for args, message in [
        ((None, 1), "index of untyped nil"),
        (([1], 1), "reflect: slice index out of range"),  # indexArg lets len through; Index panics
        (("a", 1), "reflect: string index out of range"),
        (([1], 2), "index out of range: 2"),
        (([1], -1), "index out of range: -1"),
        (([1], "x"), "cannot index slice/array with type string"),
        (({"a": 1}, 1), "value has type int; should be string"),
        ((3, 1), "can't index item of type int"),
    ]:
        with pytest.raises(GoError, match=message):
            index(*args)


def test_slice_and_len() -> None:
    assert slice_("héllo", 0, 3) == "hé"
    assert slice_([1, 2, 3], 1) == [2, 3]
    assert slice_([1, 2, 3], 0, 1, 2) == [1]
    assert length("héllo") == 6
    with pytest.raises(GoError, match="invalid slice index: 2 > 1"):
        slice_([1, 2], 2, 1)
    with pytest.raises(GoError, match="len of type int"):
        length(3)


def test_call() -> None:
    assert call_fn(lambda a, b: a + b, 1, 2) == 3
    with pytest.raises(GoError, match="call of nil"):
        call_fn(None)
    with pytest.raises(GoError, match="non-function of type string"):
        call_fn("x")


def test_escapers() -> None:
    assert html("<a href='x'>&\"\x00") == "&lt;a href=&#39;x&#39;&gt;&amp;&#34;\ufffd"
    assert js("a'b\"c<>&=\\\n\u2028é") == "a\\'b\\\"c\\u003C\\u003E\\u0026\\u003D\\\\\\u000A\\u2028é"
    assert urlquery("a b&c/é~") == "a+b%26c%2F%C3%A9~"
    assert html(1, 2) == "1 2"
