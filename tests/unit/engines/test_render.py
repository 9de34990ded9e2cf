from pathlib import Path

import pytest

from confpy.config.resource import TemplateResource, load_resource
from confpy.engines.render import Renderer
from confpy.errors import TemplateError
from confpy.store import KeyStore
from tests.support.helpers import make_confdir

STORE = KeyStore(
    {"/app/servers/a": "10.0.0.1", "/app/servers/b": "10.0.0.2", "/app/cert": "aGVsbG8=", "/app/name": "web"}
)


def setup(
    tmp_path: Path, templates: dict[str, str], src: str, extra: str = ""
) -> tuple[Renderer, TemplateResource]:
    toml = f'[template]\nsrc = "{src}"\ndest = "/tmp/x"\nkeys = ["/app"]\n{extra}'
    confdir = make_confdir(tmp_path, {"r.toml": toml}, templates)
    resource = load_resource(confdir / "conf.d" / "r.toml", name="r.toml")
    return Renderer(confdir / "templates"), resource


def test_functions_filters_and_trailing_newline(tmp_path: Path) -> None:
    text = (
        "{% for s in gets('/app/servers/*') %}{{ s.Key | base }}={{ s.Value }};{% endfor %}\n"
        "{{ getv('/app/cert') | base64Decode }} {{ getv('/app/name') | toUpper }} "
        "{{ getv('/nope', 'dflt') }}\n"
        "{{ ls('/app') | join(',') }} {{ exists('/app/name') }} {{ seq(1, 3) | join('') }}\n"
    )
    renderer, resource = setup(tmp_path, {"t.j2": text}, "t.j2")
    assert (
        renderer.render(resource, STORE)
        == "a=10.0.0.1;b=10.0.0.2;\nhello WEB dflt\ncert,name,servers True 123\n"
    )


def test_include_and_import_see_the_functions(tmp_path: Path) -> None:
    templates = {
        "main.j2": "{% import 'macros.j2' as m %}{% include 'part.j2' %}|{{ m.name() }}\n",
        "part.j2": "{{ getv('/app/name') }}",
        "macros.j2": "{% macro name() %}{{ getv('/app/name') | toUpper }}{% endmacro %}",
    }
    renderer, resource = setup(tmp_path, templates, "main.j2")
    assert renderer.render(resource, STORE) == "web|WEB\n"


def test_missing_key_names_key_resource_and_line(tmp_path: Path) -> None:
    renderer, resource = setup(tmp_path, {"t.j2": "a\nb\n{{ getv('/app/missing') }}\n"}, "t.j2")
    with pytest.raises(TemplateError, match=r"^r.toml: t.j2:3: key does not exist: /app/missing$") as info:
        renderer.render(resource, STORE)
    assert (info.value.path, info.value.line) == (renderer.templates_dir / "t.j2", 3)


def test_error_inside_an_include_names_that_file(tmp_path: Path) -> None:
    templates = {"main.j2": "x\n{% include 'sub/inc.j2' %}\n", "sub/inc.j2": "\n\n{{ get('/zzz').Value }}"}
    renderer, resource = setup(tmp_path, templates, "main.j2")
    with pytest.raises(TemplateError, match=r"^r.toml: sub/inc.j2:3: key does not exist: /zzz$") as info:
        renderer.render(resource, STORE)
    assert info.value.path == renderer.templates_dir / "sub" / "inc.j2"


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    renderer, resource = setup(tmp_path, {"t.j2": "ok\n{% if %}\n"}, "t.j2")
    with pytest.raises(TemplateError, match=r"r.toml: .*t.j2:2: template syntax error"):
        renderer.render(resource, STORE)


def test_missing_template(tmp_path: Path) -> None:
    renderer, resource = setup(tmp_path, {}, "gone.j2")
    with pytest.raises(TemplateError, match=r"r.toml: missing template: .*gone.j2"):
        renderer.render(resource, STORE)


def test_function_error_is_a_template_error(tmp_path: Path) -> None:
    renderer, resource = setup(tmp_path, {"t.j2": "{{ div(1, 0) }}"}, "t.j2")
    with pytest.raises(TemplateError, match=r"^r.toml: t.j2:1: .*divide by zero"):
        renderer.render(resource, STORE)


def test_every_message_names_a_template_by_its_path_under_templates(tmp_path: Path) -> None:
    # One form for both engines (issue 10): `RESOURCE: SRC:LINE: `, SRC as the resource writes it.
    # Before, a Jinja error said the full path and a Go error only Go's bare file name. A missing
    # template says where it was looked for, the full path, as confd does.
    cases = {
        "{{ getv('/nope') }}": "sub/t.j2:1: key does not exist: /nope",
        "{% if %}": "sub/t.j2:1: template syntax error: ",
        "{% include 'gone.j2' %}": "missing template: {dir}/gone.j2",
        "{{ div(1, 0) }}": "sub/t.j2:1: ",
        '{{getv "/nope"}}': 'sub/t.tmpl:1: template: t.tmpl:1:2: executing "t.tmpl" at <getv "/nope">: ',
        "{{ if }}": "sub/t.tmpl:1: template: t.tmpl:1: missing value for if",
    }
    for text, expected in cases.items():
        src = "sub/t.tmpl" if "sub/t.tmpl" in expected else "sub/t.j2"
        renderer, resource = setup(tmp_path / str(len(text)), {src: text}, src)
        with pytest.raises(TemplateError) as info:
            renderer.render(resource, STORE)
        message = expected.format(dir=renderer.templates_dir)
        assert str(info.value).startswith(f"r.toml: {message}"), (text, str(info.value))


def test_unknown_names_are_said_in_the_users_words_with_the_close_name(tmp_path: Path) -> None:
    # Jinja said "UndefinedError: 'toupper' is undefined" and "No filter named 'toupper'."
    cases = {
        "{{ toupper('a') }}": "unknown function or variable 'toupper' (did you mean toUpper?)",
        "{{ 'a' | toupper }}": "template syntax error: unknown filter 'toupper' (did you mean toUpper?)",
        "{{ 1 is oddd }}": "template syntax error: unknown test 'oddd' (did you mean odd?)",
        "{{ zzzz() }}": "unknown function or variable 'zzzz'",
    }
    for text, expected in cases.items():
        renderer, resource = setup(tmp_path / str(len(text)), {"t.j2": text}, "t.j2")
        with pytest.raises(TemplateError) as info:
            renderer.render(resource, STORE)
        assert str(info.value) == f"r.toml: t.j2:1: {expected}"


def test_an_error_without_a_message_still_gives_a_reason(tmp_path: Path) -> None:
    # A string that cannot be allocated anywhere: a MemoryError, whose message is empty. It went
    # past the renderer as a traceback; then it said `MemoryError: out of memory`.
    renderer, resource = setup(tmp_path, {"t.j2": "{{ 'x' * 10**15 }}"}, "t.j2")
    with pytest.raises(TemplateError) as info:
        renderer.render(resource, STORE)
    assert str(info.value) == "r.toml: t.j2:1: out of memory"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Each said Python's class name first: `ZeroDivisionError: division by zero`, ...
        ("{{ 1 / 0 }}", "division by zero"),
        ("{{ 10.0 ** 1000 }}", "number too large: (34, 'Numerical result out of range')"),
        ("{{ 'a' + 1 }}", 'wrong type: can only concatenate str (not "int") to str'),
        ("{% for x in 5 %}{% endfor %}", "wrong type: 'int' object is not iterable"),
        ("{{ getv() }}", "wrong arguments to getv: missing 1 required positional argument: 'key'"),
        ("{{ lookupIP() }}", "wrong arguments to lookupIP: missing 1 required positional argument: 'name'"),
        (
            "{{ 'a' | replace(1) }}",
            "wrong arguments to replace: missing 1 required positional argument: 'new'",
        ),
        (
            "{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}",
            "wrong arguments: macro 'm' takes not more than 1 argument(s)",
        ),
        ("{{ range(1, 2, 0) }}", "invalid value: range() arg 3 must not be zero"),
        (
            "{{ '{0}'.format() }}",
            "no such key or index: Replacement index 0 out of range for positional args tuple",
        ),
        # An AttributeError, an AssertionError (Jinja's truncate checks its argument by assert)
        # and a RuntimeError went past the renderer as a traceback.
        ("{% extends 5 %}", "no such attribute: 'int' object has no attribute 'split'"),
        ("{{ 'abc' | truncate(-5) }}", "invalid argument: expected length >= 3, got -5"),
        ("{{ cycler().next() }}", "failed: at least one item has to be provided"),
        # Jinja's own messages: a type by its Python path, and map's filter as `No filter named`.
        ("{{ self.nope() }}", "'TemplateReference object' has no attribute 'nope'"),
        ("{{ [1] | map('toupperr') | list }}", "unknown filter 'toupperr' (did you mean toUpper?)"),
    ],
)
def test_python_errors_are_said_in_the_users_words(tmp_path: Path, text: str, expected: str) -> None:
    renderer, resource = setup(tmp_path, {"t.j2": "ok\n" + text}, "t.j2")
    with pytest.raises(TemplateError) as info:
        renderer.render(resource, STORE)
    assert str(info.value) == f"r.toml: t.j2:2: {expected}"


def test_a_recursion_too_deep_says_so_in_one_line(tmp_path: Path) -> None:
    renderer, resource = setup(tmp_path, {"t.j2": "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"}, "t.j2")
    with pytest.raises(TemplateError) as info:
        renderer.render(resource, STORE)
    # Python's own words follow confpy's (their end differs between Python versions).
    assert str(info.value).startswith("r.toml: t.j2:1: too deeply nested: maximum recursion depth exceeded")
    assert "\n" not in str(info.value)


def test_go_engine_by_extension_and_by_field(tmp_path: Path) -> None:
    go = '{{range gets "/app/servers/*"}}{{.Key}} {{.Value}}\n{{end}}{{getv "/app/name" | toUpper}}\n'
    renderer, resource = setup(tmp_path, {"t.tmpl": go}, "t.tmpl")
    assert resource.engine == "go"
    assert renderer.render(resource, STORE) == "/app/servers/a 10.0.0.1\n/app/servers/b 10.0.0.2\nWEB\n"
    renderer, resource = setup(tmp_path, {"t.conf": go}, "t.conf", 'engine = "go"\n')
    assert renderer.render(resource, STORE).endswith("WEB\n")


def test_go_template_errors_as_go_reports_them(tmp_path: Path) -> None:
    renderer, resource = setup(tmp_path, {"t.tmpl": 'ok\n{{getv "/x"}}\n'}, "t.tmpl")
    with pytest.raises(
        TemplateError,
        match=r'^r.toml: t.tmpl:2: template: t.tmpl:2:2: executing "t.tmpl" at <getv "/x">: '
        r"error calling getv: key does not exist: /x$",
    ):
        renderer.render(resource, STORE)
    renderer, resource = setup(tmp_path, {"t.tmpl": "{{nope}}"}, "t.tmpl")
    with pytest.raises(
        TemplateError, match=r'^r.toml: t.tmpl:1: template: t.tmpl:1: function "nope" not defined'
    ):
        renderer.render(resource, STORE)


def test_go_template_is_reparsed_when_the_file_changes(tmp_path: Path) -> None:
    renderer, resource = setup(tmp_path, {"t.tmpl": "one"}, "t.tmpl")
    assert renderer.render(resource, STORE) == "one"
    path = tmp_path / "confdir" / "templates" / "t.tmpl"
    path.write_text("two")
    import os

    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9, path.stat().st_mtime_ns + 10**9))
    assert renderer.render(resource, STORE) == "two"


def test_json_numbers_print_as_confd_prints_them(tmp_path: Path) -> None:
    """confd decodes JSON numbers into float64 and Go prints a whole one without ".0"."""
    text = (
        "{% set db = getv('/app/db') | json %}{% set r = jsonArray(getv('/app/range')) %}"
        "{{ db.port }} {{ db.offset }} {{ db.ratio }} {{ r[0] }}..{{ r[1] }} {{ r | join(',') }}\n"
        "{{ db.port | string }} {{ 'p' ~ db.port }} {{ db.port + 1 }} {{ db.port | int }}"
        " {{ db.port > 5000 }} {{ db.big }} {{ '%s' | format(db.port) }} {{ db.ratio * 2 }}\n"
    )
    renderer, resource = setup(tmp_path, {"t.j2": text}, "t.j2")
    store = KeyStore(
        {"/app/db": '{"port": 5432, "offset": -12, "ratio": 0.25, "big": 1e6}', "/app/range": "[2, 20]"}
    )
    assert renderer.render(resource, store) == (
        "5432 -12 0.25 2..20 2,20\n5432 p5432 5433 5432 True 1e+06 5432 0.5\n"
    )
