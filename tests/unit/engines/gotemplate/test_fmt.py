"""Go's fmt for Python values: golden Sprintf output from Go, Sprint spacing, composite values."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from confpy._go.strconv import unquote
from confpy.engines.gotemplate.fmt import eval_args, sprint, sprintf, sprintln, type_name
from confpy.engines.gotemplate.gotime import Month
from confpy.engines.gotemplate.gotypes import StringSlice
from confpy.store import KVPair
from tests.support.paths import GOTEMPLATE_DATA

GOLDEN = GOTEMPLATE_DATA / "golden" / "fmt.tsv"


def golden_cases() -> list[tuple[str, Any, str]]:
    cases = []
    for line in GOLDEN.read_text().splitlines():
        if line.startswith("#"):
            continue
        kind, verb, value, want = line.split("\t")
        parsed: Any = {"float": float, "int": int, "string": unquote}[kind](value)
        cases.append((unquote(verb), parsed, unquote(want)))
    return cases


CASES = golden_cases()


def test_golden_file_is_complete() -> None:
    assert len(CASES) > 800


@pytest.mark.parametrize(("verb", "value", "want"), CASES, ids=[f"{c[0]}-{c[1]!r}" for c in CASES])
def test_sprintf_matches_go(verb: str, value: Any, want: str) -> None:
    assert sprintf(verb, value) == want


@pytest.mark.parametrize(
    ("fmt", "args", "want"),
    [
        ("%d", ("x",), "%!d(string=x)"),
        ("%s", (None,), "%!s(<nil>)"),
        ("%v", (None,), "<nil>"),
        ("%d %d", (1,), "1 %!d(MISSING)"),
        ("%d", (1, "x", None), "1%!(EXTRA string=x, <nil>)"),
        ("%!", (), "%!!(MISSING)"),
        ("%", (), "%!(NOVERB)"),
        ("%z", (3,), "%!z(int=3)"),
        ("%[2]d %[1]d", (1, 2), "2 1"),
        ("%[3]d", (1,), "%!d(BADINDEX)"),
        ("%*d|%-*d|%.*f", (4, 1, 3, 2, 1, 3.14159), "   1|2  |3.1"),
        ("%*d", ("x", 1), "%!(BADWIDTH)1"),
        ("%5t|%-6v|", (True, False), " true|false |"),
        ("%v %d %s", (["a", 1], [1, 2], ["a", "b"]), "[a 1] [1 2] [a b]"),
        ("%s", ([1],), "[%!s(int=1)]"),
        ("%v|%+v|%s", (KVPair("/k", "v"),) * 3, "{/k v}|{Key:/k Value:v}|{/k v}"),
        ("%v", ({"b": 1.5, "a": [1, None], "c": {"x": True}},), "map[a:[1 <nil>] b:1.5 c:map[x:true]]"),
        (
            "%T %T %T %T",
            ([], {}, KVPair("a", "b"), StringSlice(["a"])),
            "[]interface {} map[string]interface {} memkv.KVPair []string",
        ),
        ("%v %d %s", (Month(3), Month(3), Month(13)), "March 3 %!Month(13)"),
        ("%v %.2f", (1 + 2j, 1.5 - 0.25j), "(1+2i) (1.50-0.25i)"),
    ],
)
def test_sprintf_special_cases(fmt: str, args: tuple[Any, ...], want: str) -> None:
    assert sprintf(fmt, *args) == want


def test_sprint_spaces_only_between_non_strings() -> None:
    assert sprint("a", "b") == "ab"
    assert sprint(1, 2) == "1 2"
    assert sprint("a", 1, 2, "b", 3) == "a1 2b3"
    assert sprint(None, None) == "<nil> <nil>"
    assert sprintln("a", 1, True) == "a 1 true\n"


def test_floats_print_like_go() -> None:
    assert [sprint(x) for x in (1e6, 9007199254740992.0, 3.5, 1e-5, 123456.0, 100.0, -0.0)] == [
        "1e+06",
        "9.007199254740992e+15",
        "3.5",
        "1e-05",
        "123456",
        "100",
        "-0",
    ]
    assert sprint(math.inf, -math.inf, math.nan) == "+Inf -Inf NaN"


def test_eval_args_shows_a_missing_value() -> None:
    assert eval_args(["x"]) == "x"
    assert eval_args([None]) == "<no value>"
    assert eval_args([1, 2]) == "1 2"


def test_dataclasses_print_as_structs() -> None:
    @dataclasses.dataclass
    class Server:
        Name: str
        Port: int

    assert sprint(Server("a", 1)) == "{a 1}"
    assert sprintf("%+v", Server("a", 1)) == "{Name:a Port:1}"
    assert type_name(Server("a", 1)) == "Server"
