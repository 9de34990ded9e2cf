"""The maintained fork's functions (abtreece/confd pkg/template/utility_funcs.go, template_funcs.go,
include.go) in both engines.

Expected values are the fork's own tests' (pkg/template/utility_funcs_test.go: TestIsEmpty,
TestDfault, TestIndent, TestNindent, TestSquote, TestRepeat, TestNospace, TestSnakecase,
TestCamelcase, TestKebabcase, TestKeys, TestPluck, TestUtilityFuncsInTemplate); what Go's
standard library decides (JSON, regexp, quoting) is judged by real Go in
tests/system/engines/test_fork_functions_go.py.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from confpy.config.resource import TemplateResource
from confpy.engines.convert import convert
from confpy.engines.forkfuncs import FORK_FUNCTIONS, INCLUDE_DEPTH, REPEAT_LIMIT, is_empty
from confpy.engines.go import GoEngine
from confpy.engines.jinja import JinjaEngine
from confpy.errors import TemplateError
from confpy.store import KeyStore, KVPair


def render(tmp_path: Path, templates: dict[str, str], src: str, values: dict[str, str] | None = None) -> str:
    """`src` rendered by the engine its name selects (`.tmpl`: Go), from `templates` in tmp_path."""
    root = tmp_path / "templates"
    for name, text in templates.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    engine = GoEngine(root) if src.endswith(".tmpl") else JinjaEngine(root)
    resource = TemplateResource(name="app.toml", path=tmp_path / "app.toml", src=src, dest=tmp_path / "out")
    out: list[str] = []
    engine.render(resource, KeyStore(values or {}), out.append)
    return "".join(out)


def go(tmp_path: Path, text: str, values: dict[str, str] | None = None) -> str:
    return render(tmp_path, {"t.tmpl": text}, "t.tmpl", values)


def jinja(tmp_path: Path, text: str, values: dict[str, str] | None = None) -> str:
    return render(tmp_path, {"t.j2": text}, "t.j2", values)


# --- the fork's own test values, in both engines --------------------------------------------------

#: TestUtilityFuncsInTemplate's template, and the lines it checks
FORK_TEMPLATE = """{{- $d := default "fallback" "" -}}
default: {{ $d }}
ternary: {{ ternary "yes" "no" true }}
coalesce: {{ coalesce "" nil "found" }}
toJson: {{ toJson (list 1 2 3) }}
indent: |
{{ indent 4 "line1\\nline2" }}
quote: {{ quote "hello" }}
squote: {{ squote "world" }}
sha256: {{ sha256sum "test" }}
hasKey: {{ hasKey (dict "a" 1) "a" }}
regex: {{ regexMatch "^hello" "hello world" }}
snake: {{ snakecase "HelloWorld" }}
camel: {{ camelcase "hello_world" }}
kebab: {{ kebabcase "HelloWorld" }}
nospace: {{ nospace "a b c" }}
repeat: {{ repeat 3 "ab" }}
trimPrefix: {{ trimPrefix "Hello, World" "Hello, " }}
empty_true: {{ empty "" }}
empty_false: {{ empty "x" }}"""

FORK_OUTPUT = """default: fallback
ternary: yes
coalesce: found
toJson: [1,2,3]
indent: |
    line1
    line2
quote: "hello"
squote: 'world'
sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
hasKey: true
regex: true
snake: hello_world
camel: helloWorld
kebab: hello-world
nospace: abc
repeat: ababab
trimPrefix: World
empty_true: true
empty_false: false"""


def test_the_fork_s_template_test_in_go(tmp_path: Path) -> None:
    assert go(tmp_path, FORK_TEMPLATE) == FORK_OUTPUT


def test_the_fork_s_template_test_in_jinja(tmp_path: Path) -> None:
    """The same calls as Jinja functions, same arguments in the same order; Jinja prints True."""
    text = (
        '{%- set d = default("fallback", "") -%}\n'
        "default: {{ d }}\n"
        'ternary: {{ ternary("yes", "no", true) }}\n'
        'coalesce: {{ coalesce("", none, "found") }}\n'
        "toJson: {{ toJson(list(1, 2, 3)) }}\n"
        'indent: |\n{{ indent(4, "line1\\nline2") }}\n'
        'quote: {{ quote("hello") }}\n'
        'squote: {{ "world" | squote }}\n'
        'sha256: {{ "test" | sha256sum }}\n'
        'hasKey: {{ hasKey(dict("a", 1), "a") }}\n'
        'snake: {{ "HelloWorld" | snakecase }}\n'
        'camel: {{ camelcase("hello_world") }}\n'
        'kebab: {{ kebabcase("HelloWorld") }}\n'
        'repeat: {{ repeat(3, "ab") }}\n'
        'trimPrefix: {{ "Hello, World" | trimPrefix("Hello, ") }}\n'
        'empty_true: {{ "" | empty }}'
    )
    assert jinja(tmp_path, text).splitlines() == [
        line.replace(": true", ": True")
        for line in FORK_OUTPUT.splitlines()
        if not line.startswith(("regex", "nospace", "empty_false"))
    ]


@pytest.mark.parametrize(
    ("function", "argument", "result"),
    [
        # TestSnakecase, TestCamelcase, TestKebabcase
        ("snakecase", "HelloWorld", "hello_world"),
        ("snakecase", "helloWorld", "hello_world"),
        ("snakecase", "hello-world", "hello_world"),
        ("snakecase", "HTTPServer", "http_server"),
        ("snakecase", "", ""),
        ("camelcase", "HelloWorld", "helloWorld"),
        ("camelcase", "hello-world", "helloWorld"),
        ("camelcase", "HTTPServer", "httpServer"),
        ("kebabcase", "hello_world", "hello-world"),
        ("kebabcase", "HTTPServer", "http-server"),
        ("kebabcase", "hello", "hello"),
        # TestNospace
        ("nospace", " hello \t world \n ", "helloworld"),
        ("nospace", "   ", ""),
        ("nospace", "a\u3000b\u00a0c\u2009d", "abcd"),  # unicode.IsSpace
        ("nospace", "a\x1cb", "a\x1cb"),  # Python's isspace, not Go's
        # TestSquote
        ("squote", "a'b'c", "'a''b''c'"),
        ("squote", "", "''"),
    ],
)
def test_string_functions(function: str, argument: str, result: str) -> None:
    assert FORK_FUNCTIONS[function](argument) == result


@pytest.mark.parametrize(
    ("spaces", "text", "indented"),
    [
        (4, "hello", "    hello"),
        (2, "a\nb", "  a\n  b"),
        (4, "", ""),
        (0, "hello", "hello"),
        (-1, "hello", "hello"),
    ],
)
def test_indent_and_nindent(spaces: int, text: str, indented: str) -> None:  # TestIndent, TestNindent
    assert FORK_FUNCTIONS["indent"](spaces, text) == indented
    assert FORK_FUNCTIONS["nindent"](spaces, text) == "\n" + indented


@pytest.mark.parametrize(("count", "result"), [(3, "ababab"), (0, ""), (-1, ""), (1, "ab")])
def test_repeat(count: int, result: str) -> None:  # TestRepeat
    assert FORK_FUNCTIONS["repeat"](count, "ab") == result


def test_repeat_has_a_limit() -> None:
    with pytest.raises(TemplateError, match="exceeds confpy's limit"):
        FORK_FUNCTIONS["repeat"](REPEAT_LIMIT + 1, "x")


@pytest.mark.parametrize(
    ("value", "empty"),
    [
        (None, True),
        ("", True),
        ("hello", False),
        (0, True),
        (42, False),
        (0.0, True),
        (3.14, False),
        (False, True),
        (True, False),
        ([], True),
        (["a"], False),
        ({}, True),
        ({"k": "v"}, False),
        (KVPair("", ""), True),  # a zero struct
        (KVPair("/k", ""), False),
    ],
)
def test_empty(value: object, empty: bool) -> None:  # TestIsEmpty
    assert is_empty(value) is empty


def test_maps_and_lists() -> None:  # TestKeys, TestValues, TestPluck, TestAppendList
    m = {"b": 2, "a": 1, "é": 3, "c": 0}
    assert FORK_FUNCTIONS["keys"](m) == ["a", "b", "c", "é"]
    assert FORK_FUNCTIONS["values"](m) == [1, 2, 0, 3]
    assert FORK_FUNCTIONS["pluck"]("a", {"a": 1}, {"b": 2}, {"a": 3}) == [1, 3]
    assert FORK_FUNCTIONS["append"]([1], 2) == [1, 2]
    assert FORK_FUNCTIONS["list"]() == []


# --- Go engine: Go's types and nil ----------------------------------------------------------------


def test_go_piped_value_is_the_last_argument(tmp_path: Path) -> None:
    text = '{{ getv "/x" "" | default "none" }} {{ "-" | repeat 3 }} {{ true | ternary "on" "off" }}'
    assert go(tmp_path, text) == "none --- on"


def test_go_nil_results(tmp_path: Path) -> None:
    text = (
        '{{ pluck "x" (dict "a" 1) | toJson }} {{ list | toJson }} {{ coalesce "" 0 }} {{ fromJson "null" }}'
    )
    assert go(tmp_path, text) == "null [] <no value> <no value>"


def test_go_types_are_checked_as_the_fork_s_signatures(tmp_path: Path) -> None:
    with pytest.raises(
        TemplateError, match=r"wrong type for value; expected \[\]interface \{\}; got \[\]string"
    ):
        go(tmp_path, '{{ append (split "a,b" ",") "c" }}')
    with pytest.raises(TemplateError, match="expected bool; found 1"):
        go(tmp_path, '{{ ternary "a" "b" 1 }}')
    with pytest.raises(TemplateError, match=r"error calling toJson: json: unsupported type: complex128"):
        go(tmp_path, "{{ toJson 1i }}")


def test_go_keys_and_values_are_sorted(tmp_path: Path) -> None:
    text = '{{ $m := json "{\\"z\\":1,\\"a\\":2,\\"m\\":3}" }}'
    text += "{{ keys $m }} {{ values $m }} {{ toPrettyJson $m }}"
    assert go(tmp_path, text) == '[a m z] [2 3 1] {\n  "a": 2,\n  "m": 3,\n  "z": 1\n}'


def test_go_time_to_json(tmp_path: Path) -> None:
    """time.Time.MarshalJSON: RFC 3339 with its zone (a fraction without trailing zeros)."""
    assert re.fullmatch(
        r'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?(Z|[+-]\d\d:\d\d)"',
        go(tmp_path, "{{ toJson (datetime) }}"),
    )


# --- Jinja: names, filters, shadowing -------------------------------------------------------------


def test_jinja_filters_of_the_same_name_stay_jinja_s(tmp_path: Path) -> None:
    text = (
        '{{ nosuch | default("d") }} {{ "" | default("d") }} {{ default("d", "") }} '
        '{{ "ab" | list }} {{ list("ab") }} {{ "a\\nb" | indent(2) }}|{{ indent(2, "a\\nb") }}'
    )
    assert jinja(tmp_path, text) == "d  d ['a', 'b'] ['ab'] a\n  b|  a\n  b"


def test_jinja_dict_takes_the_fork_s_pairs_and_jinja_s_keywords(tmp_path: Path) -> None:
    assert jinja(tmp_path, '{{ dict("a", 1) }} {{ dict(b=2) }} {{ dict("a", 1, b=2) }}') == (
        "{'a': 1} {'b': 2} {'a': 1, 'b': 2}"
    )
    with pytest.raises(TemplateError, match="dict: invalid map call"):
        jinja(tmp_path, '{{ dict("a") }}')


def test_jinja_hostname_is_the_machine_s_and_still_the_filter(tmp_path: Path) -> None:
    assert jinja(tmp_path, '{{ hostname() }} {{ "web-1" | hostname }}') == f"{socket.gethostname()} web-1"
    with pytest.raises(TemplateError, match="is not a valid host name"):
        jinja(tmp_path, '{{ "a b" | hostname }}')


def test_a_template_s_own_names_hide_the_functions(tmp_path: Path) -> None:
    text = (
        '{% set keys = "mine" %}{{ keys }} '
        "{% for list in [1] %}{{ list }}{% endfor %} "
        "{% macro m(default) %}{{ default }}{% endmacro %}{{ m(7) }} "
        '{{ include("part.j2", dict("values", "theirs")) }}'
    )
    assert render(tmp_path, {"t.j2": text, "part.j2": "{{ values }}"}, "t.j2") == "mine 1 7 theirs"


def test_jinja_from_json_prints_numbers_as_go(tmp_path: Path) -> None:
    assert jinja(tmp_path, """{{ fromJson('{"n": 5432, "f": 0.25}') }} {{ fromJson("1e6") }}""") == (
        "{'n': 5432, 'f': 0.25} 1e+06"
    )


def test_jinja_undefined_is_empty(tmp_path: Path) -> None:
    assert jinja(tmp_path, '{{ empty(nosuch) }} {{ coalesce(nosuch, "x") }}') == "True x"


# --- include --------------------------------------------------------------------------------------


def test_include_in_go(tmp_path: Path) -> None:
    templates = {
        "t.tmpl": '{{ include "sub/part.tmpl" (dict "port" 80) | indent 2 }}',
        "sub/part.tmpl": "a\nport {{ .port }}",
    }
    assert render(tmp_path, templates, "t.tmpl") == "  a\n  port 80"


def test_include_in_jinja(tmp_path: Path) -> None:
    templates = {
        "t.j2": '{{ include("part.j2", dict("port", 80)) | indent(2, true) }}',
        "part.j2": 'a\nport {{ port }} {{ getv("/k") }}',
    }
    assert render(tmp_path, templates, "t.j2", {"/k": "v"}) == "  a\n  port 80 v"


@pytest.mark.parametrize("ext", ["tmpl", "j2"])
def test_include_refuses_a_path_outside_templates(tmp_path: Path, ext: str) -> None:
    call = '{{ include "../secret" }}' if ext == "tmpl" else '{{ include("../secret") }}'
    (tmp_path / "secret").write_text("no")
    with pytest.raises(
        TemplateError,
        match=r'^app\.toml: t\.\w+:1: .*include path "\.\./secret" is outside template directory$',
    ):
        render(tmp_path, {f"t.{ext}": call}, f"t.{ext}")


@pytest.mark.parametrize("ext", ["tmpl", "j2"])
def test_include_refuses_a_cycle(tmp_path: Path, ext: str) -> None:
    a, b = (
        (f'{{{{ include "b.{ext}" }}}}', f'{{{{ include "a.{ext}" }}}}')
        if ext == "tmpl"
        else (
            f'{{{{ include("b.{ext}") }}}}',
            f'{{{{ include("a.{ext}") }}}}',
        )
    )
    with pytest.raises(
        TemplateError, match=r"include cycle detected: .*/templates/b\.\w+ is already being processed"
    ):
        render(tmp_path, {f"a.{ext}": a, f"b.{ext}": b}, f"a.{ext}")


def test_include_depth_is_limited(tmp_path: Path) -> None:
    templates = {f"{i}.tmpl": f'{{{{ include "{i + 1}.tmpl" }}}}' for i in range(INCLUDE_DEPTH + 1)}
    templates[f"{INCLUDE_DEPTH + 1}.tmpl"] = "deep"
    with pytest.raises(TemplateError, match=rf"maximum include depth \({INCLUDE_DEPTH}\) exceeded"):
        render(tmp_path, templates, "0.tmpl")
    templates["0.tmpl"] = '{{ include "2.tmpl" }}'  # one level fewer: fine
    assert render(tmp_path, templates, "0.tmpl") == "deep"


def test_include_errors_name_the_resource_and_the_template(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as caught:
        render(tmp_path, {"t.tmpl": 'x\n{{ include "nope.tmpl" }}'}, "t.tmpl")
    assert str(caught.value) == (
        'app.toml: t.tmpl:2: template: t.tmpl:2:3: executing "t.tmpl" at <include "nope.tmpl">: '
        f"error calling include: include nope.tmpl: open {tmp_path}/templates/nope.tmpl: "
        "no such file or directory"
    )
    with pytest.raises(TemplateError) as caught:
        render(tmp_path, {"t.j2": '{{ include("part.j2") }}', "part.j2": "a\n{{ 1 // 0 }}"}, "t.j2")
    assert str(caught.value).startswith("app.toml: part.j2:2: ")
    with pytest.raises(
        TemplateError, match=r"parse include bad\.tmpl: template: bad\.tmpl:1: missing value for if"
    ):
        render(tmp_path, {"t.tmpl": '{{ include "bad.tmpl" }}', "bad.tmpl": "{{ if }}"}, "t.tmpl")


# --- lookups and the converter ---------------------------------------------------------------------


def test_interface_addresses_of_lo() -> None:
    assert FORK_FUNCTIONS["lookupIfaceIPV4"]("lo") == "127.0.0.1"
    assert FORK_FUNCTIONS["lookupIfaceIPV4"]("no-such-interface") == ""
    assert FORK_FUNCTIONS["lookupIfaceIPV6"]("no-such-interface") == ""


def test_convert_translates_the_fork_s_functions() -> None:
    out = convert(
        '{{ $keys := split "a,b" "," }}{{ range $keys }}{{ . | quote }}{{ end }}{{ toJson (dict "a" 1) }}',
        "t.tmpl",
    )
    assert out.text == (
        '{% set keys_2 = split("a,b", ",") %}{% for item in keys_2 %}{{ quote(item) }}{% endfor %}'
        '{{ toJson(dict("a", 1)) }}'
    )
    assert not out.problems
    refused = convert('{{ include "x.tmpl" }}', "t.tmpl")
    assert [message for _, message in refused.problems] == [
        "include renders a Go template: convert that file as well and include its Jinja twin"
    ]
