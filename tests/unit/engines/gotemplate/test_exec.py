"""The executor: Go's semantics for data, variables, control flow, calls and errors."""

from __future__ import annotations

import dataclasses
import datetime
import threading
from typing import Any, NamedTuple

import pytest

from confpy.engines.gotemplate import GoTemplate, parse
from confpy.engines.gotemplate.exec import SPILL_AT
from confpy.engines.gotemplate.gotypes import STRING, Signature
from confpy.errors import ConfpyError, KeyNotFoundError, TemplateError
from confpy.store import KVPair

STORE = {"/a": "A", "/b": "B", "/n": "3"}


def getv(key: str, *default: str) -> str:
    if key in STORE:
        return STORE[key]
    if default:
        return default[0]
    raise KeyNotFoundError(key)


def split(s: str, sep: str) -> list[str]:
    return s.split(sep)


def boom(*args: Any) -> str:
    raise AssertionError("must not be called")


FUNCS: dict[str, Any] = {
    "getv": getv,
    "split": split,
    "get": lambda k: KVPair(k, getv(k)),
    "boom": boom,
    "fail": lambda: (_ for _ in ()).throw(ValueError("bad value")),
    "confpy_fail": lambda: (_ for _ in ()).throw(ConfpyError("store is down")),
    "add": lambda a, b: a + b,
    "nothing": lambda: None,
    "now": lambda: datetime.datetime(2009, 11, 10, 23, 4, 5, 123000, tzinfo=datetime.UTC),
}


def render(text: str, data: Any = None, funcs: dict[str, Any] | None = None) -> str:
    funcs = FUNCS if funcs is None else funcs
    return parse(text, "app.tmpl", funcs).execute(funcs, data)


def error(text: str, data: Any = None) -> TemplateError:
    with pytest.raises(TemplateError) as info:
        render(text, data)
    return info.value


class Point(NamedTuple):
    X: int
    Y: int


@dataclasses.dataclass
class Server:
    Name: str
    Port: int

    def Addr(self, scheme: str) -> str:
        return f"{scheme}://{self.Name}:{self.Port}"


def test_nil_data_prints_no_value() -> None:
    assert render("{{.}} {{$}} {{.Field}} {{.a.b}}") == "<no value> <no value> <no value> <no value>"


def test_data_maps_structs_and_methods() -> None:
    data = {"p": Point(1, 2), "s": Server("web", 80), "m": {"k": "v"}}
    assert render("{{.p}} {{.p.X}} {{.s.Name}} {{.m.k}} {{.m.missing}}", data) == "{1 2} 1 web v <no value>"
    assert render('{{.s.Addr "http"}} {{"https" | .s.Addr}}', data) == "http://web:80 https://web:80"
    assert render("{{printf `%+v` .p}}", data) == "{X:1 Y:2}"


def test_field_errors() -> None:
    # a dict is a map[string]interface {}: its element's static type is interface {}, as Go names it
    assert str(error("{{.p.Z}}", {"p": Point(1, 2)})) == (
        'template: app.tmpl:1:4: executing "app.tmpl" at <.p.Z>: can\'t evaluate field Z in type interface {}'
    )
    assert str(error("{{.Z}}", Point(1, 2))) == (
        'template: app.tmpl:1:2: executing "app.tmpl" at <.Z>: can\'t evaluate field Z in type Point'
    )
    assert "X has arguments but cannot be invoked as function" in str(error("{{.p.X 1}}", {"p": Point(1, 2)}))
    assert "k is not a method but has arguments" in str(error("{{.m.k 1}}", {"m": {"k": 1}}))
    assert "can't evaluate field upper in type string" in str(error('{{$s := "x"}}{{$s.upper}}'))


def test_call_errors_name_the_function_and_keep_the_cause() -> None:
    err = error('line 1\n  {{getv "/x"}}')
    assert str(err) == (
        'template: app.tmpl:2:4: executing "app.tmpl" at <getv "/x">: '
        "error calling getv: key does not exist: /x"
    )
    assert isinstance(err.__cause__, KeyNotFoundError)
    assert str(error("{{fail}}")).endswith("at <fail>: error calling fail: bad value")
    assert isinstance(error("{{confpy_fail}}").__cause__, ConfpyError)


def test_error_columns_count_bytes() -> None:
    assert str(error('é {{getv "/x"}}')).startswith("template: app.tmpl:1:5: ")


def test_wrong_argument_counts_are_reported_as_go_does() -> None:
    assert str(error("{{getv}}")).endswith("at <getv>: wrong number of args for getv: want at least 1 got 0")
    assert str(error("{{split `a`}}")).endswith("at <split>: wrong number of args for split: want 2 got 1")
    assert str(error("{{len 1 2}}")).endswith("at <len>: wrong number of args for len: want 1 got 2")


def test_a_function_missing_at_execution() -> None:
    template = parse("{{getv `/a`}}", "app.tmpl", ["getv"])
    with pytest.raises(TemplateError, match='at <getv>: "getv" is not a defined function'):
        template.execute({})


def test_variables_scope_ends_at_end_and_assignment_reaches_out() -> None:
    text = "{{$x := 1}}{{range split `a b` ` `}}{{$x = .}}{{$y := 2}}{{end}}{{$x}}"
    assert render(text) == "b"
    assert render("{{with $v := getv `/a`}}{{$v}}{{end}}{{$v := 5}}{{$v}}") == "A5"
    assert render("{{$x := 1}}{{$x := 2}}{{$x}}") == "2"


def test_variables_are_per_template_call() -> None:
    text = '{{define "t"}}{{$}}{{$x := 9}}{{$x}}{{end}}{{$x := 1}}{{template "t" 5}}{{$x}}'
    assert render(text) == "591"


def test_range_forms() -> None:
    assert render("{{range $k, $v := .}}{{$k}}={{$v}};{{end}}", {"b": 2, "a": 1}) == "a=1;b=2;"
    assert render("{{range $i, $v := .}}{{$i}}{{$v}}{{end}}", ["x", "y"]) == "0x1y"
    assert render("{{range $v := .}}{{$v}}{{else}}empty {{$v}}{{end}}", []) == "empty []"
    assert render("{{range .}}x{{else}}nil{{end}}") == "nil"
    assert render("{{range 3}}{{.}}{{end}}{{range -1}}x{{else}}none{{end}}") == "012none"
    assert "range can't iterate over 1.5" in str(error("{{range 1.5}}{{end}}"))


def test_break_and_continue_affect_the_innermost_range() -> None:
    text = (
        "{{range $i := 4}}{{range 3}}{{if eq . 1}}{{break}}{{end}}{{.}}{{end}}"
        "{{if eq $i 2}}{{continue}}{{end}}{{$i}};{{end}}"
    )
    assert render(text) == "00;01;003;"


def test_with_and_if_set_dot_only_for_with() -> None:
    assert render("{{with getv `/a`}}{{.}}{{end}}|{{if getv `/a`}}{{.}}{{end}}", "dot") == "A|dot"
    assert render("{{with 0}}x{{else with 1}}{{.}}{{end}}") == "1"


def test_and_or_short_circuit_and_return_the_deciding_value() -> None:
    assert render("{{and 0 boom}} {{or 1 boom}} {{and 1 2}} {{or 0 ``}}") == "0 1 2 "
    assert render("{{1 | and 2}} {{0 | or ``}}") == "1 0"


def test_functions_can_override_builtins() -> None:
    funcs = {"len": lambda x: "mine"}
    assert render("{{len 1}}", funcs=funcs) == "mine"


def test_templates_and_blocks() -> None:
    assert render('{{define "a"}}[{{.}}]{{end}}{{template "a" 1}}{{template "a"}}') == "[1][<no value>]"
    assert render('{{block "b" 2}}<{{.}}>{{end}}') == "<2>"


def test_recursion_is_stopped() -> None:
    err = error('{{define "loop"}}{{template "loop" .}}{{end}}{{template "loop"}}')
    assert "exceeded maximum template depth (100000)" in str(err)


def test_datetime_methods() -> None:
    # time.Time's methods come with gotime, which confd's datetime imports before it makes a time
    # (confpy.engines.gotemplate.confd._now): this test's own `now` must do the same.
    from confpy.engines.gotemplate import gotime  # noqa: F401

    text = (
        '{{(now).Format "2006-01-02T15:04:05.000Z07:00"}} {{(now).Unix}} {{(now).Year}} '
        "{{(now).Month}} {{(now).Weekday}} {{now}}"
    )
    assert render(text) == (
        "2009-11-10T23:04:05.123Z 1257894245 2009 November Tuesday 2009-11-10 23:04:05.123 +0000 UTC"
    )
    assert "wrong number of args for Format: want 1 got 0" in str(error("{{(now).Format}}"))


def test_printing_values() -> None:
    assert render("{{nothing}} {{print nothing}} {{printf `%v` nothing}}") == "<no value> <nil> <nil>"
    assert (
        render("{{get `/a`}} {{split `a,b` `,`}} {{.}}", {"k": [1.5, None, True]})
        == "{/a A} [a b] map[k:[1.5 <nil> true]]"
    )
    assert "can't print {{.}} of type" in str(error("{{.}}", boom))


def test_comparison_errors() -> None:
    assert str(error("{{eq 1 `1`}}")).endswith(
        "at <eq 1 `1`>: error calling eq: incompatible types for comparison"
    )
    assert str(error("{{eq 1}}")).endswith("error calling eq: missing argument for comparison")
    assert "non-comparable type" in str(error("{{eq (split `a` `,`) (split `a` `,`)}}"))


def test_non_function_arguments_and_nil() -> None:
    assert str(error("{{.X 1}}", {"X": 1})).endswith("at <.X>: X is not a method but has arguments")
    assert "can't give argument to non-function $x" in str(error("{{$x := 1}}{{$x 2}}"))
    assert "nil is not a command" in str(error("{{nil}}"))
    assert str(error("{{(nil).X}}")).endswith("at <nil>: nil is not a command")


def test_templates_are_reusable_and_thread_safe() -> None:
    template: GoTemplate = parse("{{range .}}{{$v := .}}{{$v}}{{end}}", "t", [])
    results: dict[int, str] = {}

    def work(i: int) -> None:
        for _ in range(200):
            results[i] = template.execute({}, [i] * 50)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: str(i) * 50 for i in range(8)}
    assert template.templates == ["t"]


def test_argument_type_errors_of_printf_and_len() -> None:
    assert str(error("{{printf 1}}")).endswith("at <1>: expected string; found 1")
    assert str(error("{{printf .}}")).endswith("at <.>: invalid value; expected string")
    assert str(error("{{printf (len `ab`)}}")).endswith(
        "at <`ab`>: wrong type for value; expected string; got int"
    )
    assert str(error("{{len nil}}")).endswith(
        "error calling len: reflect: call of reflect.Value.Type on zero Value"
    )
    assert str(error("{{(1) 2}}")).endswith("at <(1) 2>: can't give argument to non-function 1")


@pytest.mark.parametrize(
    "text",
    [
        "{{range .}}<{{.}}>{{end}}",
        '{{define "item"}}<{{.}}>{{end}}{{range .}}{{template "item" .}}{{end}}',
    ],
    ids=["range", "template-call"],
)
def test_output_reaches_the_writer_in_order_and_in_bounded_pieces(text: str) -> None:
    """The writer (the stage file's, which counts against the size limit) gets a few hundred
    pieces at a time while a long range runs, not one call per piece, nor all of it at the end."""
    pieces: list[str] = []
    parse(text, "t", []).stream(pieces.append, {}, list(range(5000)))
    assert "".join(pieces) == "".join(f"<{i}>" for i in range(5000))
    assert len(pieces) > 5, "held until the end: a long output must stream"
    assert max(len(p) for p in pieces) < 3 * SPILL_AT * len("<4999>")


def test_nothing_more_reaches_the_writer_after_a_failure() -> None:
    pieces: list[str] = []
    with pytest.raises(TemplateError):
        parse("{{range .}}{{.}}{{end}}{{fail}}", "t", FUNCS).stream(pieces.append, FUNCS, [1, 2])
    assert pieces == []


def test_a_typed_argument_reads_a_struct_field_and_a_map_element_as_go_does() -> None:
    """`base .Key`: a NamedTuple's field is read directly; a map's element (interface {}) is
    checked against the parameter's type, and a missing one is Go's invalid value."""
    funcs = {"upper": str.upper}
    sigs = {"upper": Signature((STRING,), STRING)}
    assert parse("{{upper .Key}}", "t", sigs).execute(funcs, KVPair("/a", "b")) == "/A"
    assert parse("{{upper .k}}", "t", sigs).execute(funcs, {"k": "v"}) == "V"
    with pytest.raises(TemplateError, match="invalid value; expected string"):
        parse("{{upper .missing}}", "t", sigs).execute(funcs, {"k": "v"})
    with pytest.raises(TemplateError, match="wrong type for value; expected string; got int"):
        parse("{{upper .k}}", "t", sigs).execute(funcs, {"k": 1})
