"""convert(): Go templates to Jinja2 twins that render the same bytes, or say what they cannot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
import pytest

from confpy.engines.analysis import Conversion
from confpy.engines.convert import convert, convert_file
from confpy.engines.gotemplate import parse
from confpy.errors import TemplateError
from confpy.store import KeyStore, KVPair
from tests.support.paths import GOTEMPLATE_DATA

CORPUS = GOTEMPLATE_DATA / "corpus"
RENDERED = sorted(p.stem for p in CORPUS.glob("*.out"))


def confd_functions() -> dict[str, Any]:
    functions = pytest.importorskip(
        "confpy.engines.functions", reason="confpy.engines.functions is not written yet"
    )
    store = KeyStore(json.loads((CORPUS / "store.json").read_text()))
    result: dict[str, Any] = functions.make_functions(store)
    return result


def jinja_render(text: str, funcs: dict[str, Any]) -> str:
    env = jinja2.Environment(keep_trailing_newline=True)
    env.globals.update(funcs)
    return env.from_string(text).render()


def test_enough_corpus_templates_convert_cleanly() -> None:
    clean = [name for name in RENDERED if not convert((CORPUS / f"{name}.tmpl").read_text(), name).problems]
    assert len(clean) >= 8, clean


@pytest.mark.parametrize("name", RENDERED)
def test_clean_conversions_render_what_go_renders(name: str) -> None:
    text = (CORPUS / f"{name}.tmpl").read_text()
    conversion = convert(text, f"{name}.tmpl")
    if conversion.problems:
        assert "{# convert: " in conversion.text
        return
    assert "{# convert:" not in conversion.text
    assert jinja_render(conversion.text, confd_functions()) == (CORPUS / f"{name}.out").read_text()


FUNCS: dict[str, Any] = {
    "getv": lambda key, *default: {"/a": "A", "/n": "2"}.get(key, *default),
    "gets": lambda pattern: [KVPair("/x/1", "one"), KVPair("/x/2", "two")],
    "lsdir": lambda path: ["p", "q"],
    "split": lambda s, sep: s.split(sep),
    "exists": lambda key: key == "/a",
    "json": lambda s: json.loads(s),
    "atoi": int,
}


def twin(text: str) -> Conversion:
    """Convert, and check a clean conversion renders what the Go engine renders."""
    conversion = convert(text, "t.tmpl")
    if not conversion.problems:
        expected = parse(text, "t.tmpl", FUNCS).execute(FUNCS)
        assert jinja_render(conversion.text, FUNCS) == expected
    return conversion


@pytest.mark.parametrize(
    ("go", "jinja"),
    [
        ('{{getv "/a"}}', '{{ getv("/a") }}'),
        ('a {{- getv "/a" -}} b', 'a {{- getv("/a") -}} b'),
        ("x {{- /* note */ -}} y", "x {#- note -#} y"),
        ('{{"/a" | getv}}', '{{ getv("/a") }}'),
        ('{{$v := getv "/a"}}{{$v}}', '{% set v = getv("/a") %}{{ v }}'),
        (
            '{{if exists "/a"}}y{{else if exists "/b"}}z{{else}}n{{end}}',
            '{% if exists("/a") %}y{% elif exists("/b") %}z{% else %}n{% endif %}',
        ),
        ("{{range gets `/x/*`}}{{.Key}}{{end}}", '{% for item in gets("/x/*") %}{{ item.Key }}{% endfor %}'),
        (
            "{{range $i, $d := lsdir `/`}}{{$i}}{{$d}}{{end}}",
            '{% for d in lsdir("/") %}{% set i = loop.index0 %}{{ i }}{{ d }}{% endfor %}',
        ),
        (
            '{{range $k, $v := json `{"b":"2","a":"1"}`}}{{$k}}{{end}}',
            '{% for k, v in (json("{\\"b\\":\\"2\\",\\"a\\":\\"1\\"}") | dictsort(true)) %}'
            "{{ k }}{% endfor %}",
        ),
        (
            "{{with getv `/a`}}{{.}}{{end}}",
            '{% set value = getv("/a") %}{% if value %}{{ value }}{% endif %}',
        ),
        ('{{printf "%s-%03d" (getv "/a") 7}}', '{{ ("%s-%03d" % (getv("/a"), 7)) }}'),
        (
            '{{if and (exists "/a") (not (eq (getv "/n") "1" "3"))}}ok{{end}}',
            '{% if (exists("/a") and (not (getv("/n") == "1" or getv("/n") == "3"))) %}ok{% endif %}',
        ),
        ("{{exists `/a`}}", '{{ "true" if exists("/a") else "false" }}'),
        (
            '{{define "d"}}[{{getv .}}]{{end}}{{template "d" "/a"}}',
            '{% macro d(dot=none) %}[{{ getv(dot) }}]{% endmacro %}{{ d("/a") }}',
        ),
        (
            '{{block "b" "/a"}}<{{getv .}}>{{end}}',
            '{% macro b(dot=none) %}<{{ getv(dot) }}>{% endmacro %}{{ b("/a") }}',
        ),
        ("100{% literal {# text", '100{{ "{%" }} literal {{ "{#" }} text'),
    ],
)
def test_translations(go: str, jinja: str) -> None:
    conversion = twin(go)
    assert conversion.problems == []
    assert conversion.text == jinja


@pytest.mark.parametrize(
    ("go", "line", "message"),
    [
        ("a\n{{json `{}`}}", 2, "prints a value of type dict: Go and Jinja print it differently"),
        ("{{range split `a b` ` `}}{{break}}{{end}}", 1, "{{break}} needs Jinja's loopcontrols extension"),
        ('{{len "é"}}', 1, "len of a string counts bytes in Go, characters in Jinja"),
        ('{{$x := ""}}\n{{range lsdir "/"}}{{$x = .}}{{end}}', 2, "assigns $x inside a range"),
        ('{{printf "%5.2f" 1}}', 1, "printf verb %f with a int argument"),
        ("{{html 1}}", 1, "html has no Jinja equivalent here"),
        ('{{template "x"}}{{define "x"}}X{{end}}', 1, 'template "x" is used before its {{define}}'),
        ("{{eq 1 `1`}}", 1, "eq compares a int with another type"),
    ],
)
def test_problems_are_reported_and_marked(go: str, line: int, message: str) -> None:
    conversion = convert(go, "t.tmpl")
    assert [(ln, m[: len(message)]) for ln, m in conversion.problems] == [(line, message)]
    assert f"{{# convert: {conversion.problems[0][1]} #}}" in conversion.text


def test_shadowing_declarations_get_their_own_names() -> None:
    conversion = twin('{{$x := "a"}}{{if true}}{{$x := "b"}}{{$x}}{{end}}{{$x}}')
    assert conversion.problems == []
    assert jinja_render(conversion.text, FUNCS) == "ba"


def test_a_go_template_that_does_not_parse_is_an_error() -> None:
    with pytest.raises(TemplateError, match=r'^template: t.tmpl:1: function "nope" not defined'):
        convert("{{nope}}", "t.tmpl")


def test_convert_file_names_the_file_it_cannot_convert(tmp_path: Path) -> None:
    good = tmp_path / "good.tmpl"
    good.write_text('{{getv "/a"}}\n')
    assert convert_file(good) == convert('{{getv "/a"}}\n', "good.tmpl")
    binary = tmp_path / "binary.tmpl"
    binary.write_bytes(b"\xff{{.}}")
    broken = tmp_path / "broken.tmpl"
    broken.write_text("{{if}}")
    for path, start in [
        (tmp_path / "no", f"{tmp_path}/no: No such file or directory"),
        (binary, f"{binary}: not UTF-8 text (byte 0 is 0xff)"),
        (broken, f"{broken}: "),
    ]:
        with pytest.raises(TemplateError) as caught:
            convert_file(path)
        assert str(caught.value).startswith(start) and caught.value.path == path
