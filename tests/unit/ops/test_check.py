"""`confpy check`: a good confdir passes; each kind of problem is reported with file and line."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from confpy.ops.check import check_confdir
from tests.support.helpers import make_confdir

GOOD_TOML = """[template]
src = "upstream.conf.j2"
dest = "{dest}"
prefix = "/myapp"
keys = ["/servers", "port", "/db/"]
mode = "0644"
check_cmd = "true"
"""

GOOD_J2 = """{% import "macros.j2" as m %}{% from "macros.j2" import server %}
upstream app {
{%- for s in gets("/servers/*") %}
    {{ server(s.Value, getv("/port", "80")) }} # {{ s.Key | base | toUpper }}
{%- endfor %}
}
{%- set n = ls("/servers") | length %}
# {{ n }} servers, db {{ getv("/db/host") }}{% if exists("/db/tls") %} tls{% endif %}
{% include "footer.j2" %}
"""

MACROS_J2 = """{% macro server(addr, port) -%}
server {{ addr }}:{{ port }};{{ caller() if caller else "" }}
{%- endmacro %}
"""

FOOTER_J2 = "# {{ n }} {% for d in ls('/db') %}{{ loop.index }}{{ d }}{% endfor %}{{ lsdir('/db') }}"


def _confdir(tmp_path: Path, resources: Mapping[str, str], templates: Mapping[str, str]) -> Path:
    return make_confdir(tmp_path, resources, templates)


def _good(tmp_path: Path) -> Path:
    return _confdir(
        tmp_path,
        {"upstream.toml": GOOD_TOML.format(dest=tmp_path / "upstream.conf")},
        {"upstream.conf.j2": GOOD_J2, "macros.j2": MACROS_J2, "footer.j2": FOOTER_J2},
    )


def _check(confdir: Path, data: Path | None = None) -> tuple[int, str, list[str]]:
    out, err = io.StringIO(), io.StringIO()
    status = check_confdir(confdir, data, out=out, err=err)
    return status, out.getvalue(), err.getvalue().splitlines()


def test_a_good_confdir_passes(tmp_path: Path) -> None:
    confdir = _good(tmp_path)
    (confdir / "confd.toml").write_text('backend = "etcdv3"\nnodes = ["http://127.0.0.1:2379"]\n')
    status, out, err = _check(confdir)
    assert err == []
    assert status == 0
    assert out == f"ok: 1 resources, 3 templates in {confdir}\n"


def test_confd_toml_problem_names_file_and_line(tmp_path: Path) -> None:
    confdir = _good(tmp_path)
    (confdir / "confd.toml").write_text('nodes = ["http://127.0.0.1:2379"]\nbackend = "consul"\n')
    status, _, err = _check(confdir)
    assert status == 1
    assert err == [
        f"{confdir}/confd.toml:2: backend 'consul' is not supported by confpy"
        " (supported: etcdv3 (alias etcd), env, file, redis, zookeeper)"
    ]


def test_confd_toml_syntax_error(tmp_path: Path) -> None:
    confdir = _good(tmp_path)
    (confdir / "confd.toml").write_text('backend = "etcdv3"\nnodes = [\n')
    status, _, err = _check(confdir)
    assert status == 1
    assert len(err) == 1 and err[0].startswith(f"{confdir}/confd.toml:")
    assert "invalid TOML" in err[0]


def test_resource_problems_name_file_and_line(tmp_path: Path) -> None:
    confdir = _confdir(
        tmp_path,
        {
            "a.toml": '[template]\nsrc = "a.j2"\ndest = "/tmp/a"\n\nmode = "rw-r--r--"\n',
            "b.toml": "[template\nsrc = 1\n",
            "c.toml": '[template]\ndest = "/tmp/c"\n',
            "d.toml": '[template]\nsrc = "missing.j2"\ndest = "/tmp/d"\n',
        },
        {"a.j2": "x\n"},
    )
    status, _, err = _check(confdir)
    assert status == 1
    conf = confdir / "conf.d"
    assert err[0] == f"{conf}/a.toml:5: mode 'rw-r--r--' is not an octal file mode such as \"0644\""
    assert err[1].startswith(f"{conf}/b.toml:1: invalid TOML: ")
    assert err[2] == f"{conf}/c.toml:1: missing required field 'src'"
    assert err[3] == f"{conf}/d.toml:2: missing template: {confdir}/templates/missing.j2"
    assert len(err) == 4


def test_two_resources_with_one_dest(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    toml = f'[template]\nsrc = "a.j2"\n\ndest = "{dest}"\n'
    confdir = _confdir(tmp_path, {"a.toml": toml, "b.toml": toml}, {"a.j2": "x\n"})
    status, _, err = _check(confdir)
    conf = confdir / "conf.d"
    assert status == 1
    assert err == [
        f"{conf}/a.toml:4: dest {dest} is also the dest of {conf}/b.toml: "
        "two resources must not write one file (none of them is applied)"
    ]


def test_unknown_fields_are_warnings_unless_a_safety_field_is_misspelt(tmp_path: Path) -> None:
    confdir = _good(tmp_path)
    path = confdir / "conf.d" / "upstream.toml"
    text = path.read_text()
    path.write_text(text + 'reload_cmdd = "true"\n')
    status, out, err = _check(confdir)
    assert status == 0
    assert err == [
        f"{path}:8: warning: unknown field 'reload_cmdd' in [template] is ignored (did you mean reload_cmd?)"
    ]
    assert out.startswith("ok: ")
    path.write_text(text + 'chek_cmd = "nginx -t"\n')
    status, out, err = _check(confdir)
    assert status == 1
    assert err == [
        f"{path}:8: unknown field 'chek_cmd' in [template]: did you mean check_cmd? "
        "(a misspelt safety field is refused, not ignored)"
    ]


def test_template_syntax_error(tmp_path: Path) -> None:
    confdir = _confdir(
        tmp_path,
        {"a.toml": '[template]\nsrc = "a.j2"\ndest = "/tmp/a"\n'},
        {"a.j2": "line one\n{% for x in y %}\n{{ x }}\n"},
    )
    status, _, err = _check(confdir)
    assert status == 1
    assert len(err) == 1
    assert err[0].startswith(f"{confdir}/templates/a.j2:3: template syntax error: Unexpected end of template")


def test_syntax_error_in_an_included_template(tmp_path: Path) -> None:
    confdir = _confdir(
        tmp_path,
        {"a.toml": '[template]\nsrc = "a.j2"\ndest = "/tmp/a"\n'},
        {"a.j2": "{% include 'sub/part.j2' %}\n", "sub/part.j2": "\n\n{{ 1 + }}\n"},
    )
    status, _, err = _check(confdir)
    assert status == 1
    assert len(err) == 1
    assert err[0].startswith(f"{confdir}/templates/sub/part.j2:3: template syntax error: ")


def test_unknown_names_filters_and_tests(tmp_path: Path) -> None:
    template = (
        "{{ getv('/a') }}\n"  # fine
        "{{ frobnicate('/a') }}\n"
        "{{ nosuch }}\n"
        "{% if true %}{{ 'x' | nofilter }}{% endif %}\n"
        "{% if 1 is notatest %}{% endif %}\n"
        "{% macro mine(v) %}{{ v }}{% endmacro %}{{ mine(1) }}{{ range(2) | list }}{{ lipsum(1)[:0] }}\n"
    )
    confdir = _confdir(
        tmp_path,
        {"a.toml": '[template]\nsrc = "a.j2"\ndest = "/tmp/a"\nkeys = ["/a"]\n'},
        {"a.j2": template},
    )
    status, _, err = _check(confdir)
    path = f"{confdir}/templates/a.j2"
    assert status == 1
    assert err == [
        f"{path}:2: unknown function 'frobnicate'",
        f"{path}:3: undefined variable 'nosuch'",
        f"{path}:4: unknown filter 'nofilter'",
        f"{path}:5: unknown test 'notatest'",
    ]


def test_an_unknown_filter_outside_a_condition(tmp_path: Path) -> None:
    confdir = _confdir(
        tmp_path,
        {"a.toml": '[template]\nsrc = "a.j2"\ndest = "/tmp/a"\n'},
        {"a.j2": "\n{{ 'x' | nofilter }}\n"},
    )
    status, _, err = _check(confdir)
    assert status == 1
    assert err == [f"{confdir}/templates/a.j2:2: template syntax error: No filter named 'nofilter'."]


def test_undeclared_keys(tmp_path: Path) -> None:
    template = (
        "{{ getv('/app/host') }}{{ get('/app/port').Value }}{{ exists('/applications') }}\n"
        "{{ getv('/db/host') }}\n"
        "{% for x in gets('/other/*') %}{% endfor %}{{ getvs('/*/host') }}{{ gets('/app*') }}\n"
        "{{ ls('/') }}{{ lsdir('/app/servers') }}\n"
        "{% set name = 'x' %}{{ getv('/app/' ~ name) }}{{ getv('/cache/' ~ name) }}{{ getv(name) }}\n"
    )
    confdir = _confdir(
        tmp_path,
        {"a.toml": '[template]\nsrc = "a.j2"\ndest = "/tmp/a"\nprefix = "/prod"\nkeys = ["app"]\n'},
        {"a.j2": template},
    )
    status, _, err = _check(confdir)
    path = f"{confdir}/templates/a.j2"
    assert status == 1
    assert err == [
        # /app reads /app and /app/..., never /applications (confd's etcdv3 GetValues).
        f'{path}:1: exists("/applications"): not under a key a.toml declares (/app)',
        f'{path}:2: getv("/db/host"): not under a key a.toml declares (/app)',
        f'{path}:3: gets("/other/*"): not under a key a.toml declares (/app)',
        f'{path}:4: ls("/"): not under a key a.toml declares (/app)',
        f'{path}:5: getv("/cache/" ~ ...): not under a key a.toml declares (/app)',
    ]


def test_keys_in_an_included_template_are_checked_per_resource(tmp_path: Path) -> None:
    confdir = _confdir(
        tmp_path,
        {
            "a.toml": '[template]\nsrc = "a.j2"\ndest = "/tmp/a"\nkeys = ["/shared", "/a"]\n',
            "b.toml": '[template]\nsrc = "b.j2"\ndest = "/tmp/b"\nkeys = ["/b"]\n',
        },
        {
            "a.j2": "{% include 'part.j2' %}",
            "b.j2": "{% include 'part.j2' %}",
            "part.j2": "\n{{ getv('/shared/x') }}",
        },
    )
    status, _, err = _check(confdir)
    assert status == 1
    assert err == [f'{confdir}/templates/part.j2:2: getv("/shared/x"): not under a key b.toml declares (/b)']


def test_missing_included_template(tmp_path: Path) -> None:
    confdir = _confdir(
        tmp_path,
        {"a.toml": '[template]\nsrc = "a.j2"\ndest = "/tmp/a"\n'},
        {"a.j2": "ok\n{% include 'gone.j2' %}\n{% include 'maybe.j2' ignore missing %}\n"},
    )
    status, _, err = _check(confdir)
    assert status == 1
    assert err == [f"{confdir}/templates/a.j2:2: missing template: {confdir}/templates/gone.j2"]


def test_variables_declared_in_an_including_template_are_known(tmp_path: Path) -> None:
    confdir = _confdir(
        tmp_path,
        {"a.toml": '[template]\nsrc = "a.j2"\ndest = "/tmp/a"\n'},
        {
            "a.j2": "{% for item in [1, 2] %}{% include 'row.j2' %}{% endfor %}",
            "row.j2": "{{ item }}\n",
            "base.j2": "{% block body %}{% endblock %}",
            "child.j2": "{% extends 'base.j2' %}{% block body %}{{ super() }}{{ self }}{% endblock %}",
        },
    )
    (confdir / "conf.d" / "b.toml").write_text('[template]\nsrc = "child.j2"\ndest = "/tmp/b"\n')
    status, out, err = _check(confdir)
    assert err == []
    assert status == 0
    assert out.startswith("ok: 2 resources, 4 templates")


def test_no_resources_is_a_problem(tmp_path: Path) -> None:
    confdir = _confdir(tmp_path, {}, {})
    status, _, err = _check(confdir)
    assert status == 1
    assert err == [f"{confdir}/conf.d: no template resources (*.toml) found"]


def test_missing_conf_d(tmp_path: Path) -> None:
    status, _, err = _check(tmp_path)
    assert status == 1
    assert err == [f"{tmp_path}/conf.d: template resource directory does not exist"]


# --- rendering sample data -----------------------------------------------------------------------


SAMPLE = """myapp:
  servers:
    a: 10.0.0.1
    b: 10.0.0.2
  port: 8080
  db:
    host: db1
"""


def test_data_renders_every_resource(tmp_path: Path) -> None:
    confdir = _good(tmp_path)
    (confdir / "conf.d" / "plain.toml").write_text(
        '[template]\nsrc = "plain.j2"\ndest = "/tmp/plain.conf"\nprefix = "/myapp"\nkeys = ["/port"]\n'
    )
    (confdir / "templates" / "plain.j2").write_text("port {{ getv('/port') }}")
    data = tmp_path / "sample.yaml"
    data.write_text(SAMPLE)
    status, out, err = _check(confdir, data)
    assert err == []
    assert status == 0
    assert out == (
        "==> /tmp/plain.conf (plain.toml) <==\n"
        "port 8080\n"
        f"==> {tmp_path}/upstream.conf (upstream.toml) <==\n"
        "\n"
        "upstream app {\n"
        "    server 10.0.0.1:8080; # A\n"
        "    server 10.0.0.2:8080; # B\n"
        "}\n"
        "# 2 servers, db db1\n"
        "# 2 1host[]\n"
        f"ok: 2 resources, 4 templates in {confdir}, rendered with {data}\n"
    )


def test_data_as_json(tmp_path: Path) -> None:
    confdir = _confdir(
        tmp_path,
        {"a.toml": '[template]\nsrc = "a.j2"\ndest = "/tmp/a"\nkeys = ["/list"]\n'},
        {"a.j2": "{{ getvs('/list/*') | join(',') }}\n"},
    )
    data = tmp_path / "sample.json"
    data.write_text(json.dumps({"list": ["x", 1, True, 2.5]}))
    status, out, err = _check(confdir, data)
    assert (status, err) == (0, [])
    assert out.splitlines()[:2] == ["==> /tmp/a (a.toml) <==", "1,2.5,true,x"]


def test_a_render_error_is_a_problem_with_its_line(tmp_path: Path) -> None:
    confdir = _good(tmp_path)
    data = tmp_path / "sample.yaml"
    data.write_text(SAMPLE.replace("    host: db1\n", "    port: 1\n"))
    status, out, err = _check(confdir, data)
    assert status == 1
    assert err == [
        f"{confdir}/templates/upstream.conf.j2:8: upstream.toml: rendering with sample.yaml: "
        "key does not exist: /db/host"
    ]
    assert "==>" not in out
    assert "ok:" not in out


def test_a_never_ending_render_is_stopped(tmp_path: Path) -> None:
    toml = f'[template]\nsrc = "loop.j2"\ndest = "{tmp_path}/loop.conf"\nrender_timeout = "300ms"\n'
    confdir = _confdir(tmp_path, {"loop.toml": toml}, {"loop.j2": "{% for i in range(10**12) %}{% endfor %}"})
    data = tmp_path / "sample.yaml"
    data.write_text("a: 1\n")
    status, _, err = _check(confdir, data)
    assert status == 1
    assert err == [
        f"{confdir}/conf.d/loop.toml: loop.toml: rendering with sample.yaml: "
        "took longer than render_timeout (300 ms) and was stopped"
    ]


def test_a_broken_template_is_not_rendered_again(tmp_path: Path) -> None:
    confdir = _confdir(
        tmp_path,
        {"a.toml": '[template]\nsrc = "a.j2"\ndest = "/tmp/a"\n'},
        {"a.j2": "{% if %}\n"},
    )
    data = tmp_path / "sample.yaml"
    data.write_text("a: 1\n")
    status, out, err = _check(confdir, data)
    assert status == 1
    assert len(err) == 1 and "template syntax error" in err[0]
    assert out == ""


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bad.yaml", "a: [1,\n", "bad.yaml:2: invalid YAML: "),
        ("bad.json", '{"a": 1,\n}', "bad.json:2: invalid JSON: "),
        ("list.yaml", "- 1\n", "list.yaml: the top level must be a mapping of keys, not a list"),
    ],
)
def test_bad_data_files(tmp_path: Path, name: str, text: str, expected: str) -> None:
    confdir = _good(tmp_path)
    data = tmp_path / name
    data.write_text(text)
    status, _, err = _check(confdir, data)
    assert status == 1
    assert len(err) == 1
    assert err[0].startswith(f"{tmp_path}/{expected}")


def test_missing_data_file(tmp_path: Path) -> None:
    confdir = _good(tmp_path)
    status, _, err = _check(confdir, tmp_path / "nope.yaml")
    assert status == 1
    assert err == [f"{tmp_path}/nope.yaml: cannot read {tmp_path}/nope.yaml: No such file or directory"]


GO_TOML = (
    '[template]\nsrc = "{src}"\ndest = "/tmp/{name}.conf"\nprefix = "/myapp"\nkeys = ["/servers"]\n{extra}'
)
GO_TMPL = 'upstream app {\n{{range gets "/servers/*"}}    server {{.Value}}; # {{base .Key}}\n{{end}}}\n'


def _go_confdir(tmp_path: Path, template: str, src: str = "app.conf.tmpl", extra: str = "") -> Path:
    return _confdir(tmp_path, {"app.toml": GO_TOML.format(src=src, name="app", extra=extra)}, {src: template})


@pytest.mark.parametrize(
    ("src", "extra"),
    [("app.conf.tmpl", ""), ("app.conf", 'engine = "go"\n')],
)
def test_a_valid_go_template_passes_and_renders(tmp_path: Path, src: str, extra: str) -> None:
    """The engine check uses is the resource's own (a .tmpl src, or engine = "go"), as rendering does."""
    confdir = _go_confdir(tmp_path, GO_TMPL, src, extra)
    data = tmp_path / "sample.yaml"
    data.write_text(SAMPLE)
    status, out, err = _check(confdir)
    assert (status, err) == (0, [])
    assert out == f"ok: 1 resources, 1 templates in {confdir}\n"
    status, out, err = _check(confdir, data)
    assert (status, err) == (0, [])
    assert out.startswith(
        "==> /tmp/app.conf (app.toml) <==\n"
        "upstream app {\n    server 10.0.0.1; # a\n    server 10.0.0.2; # b\n}\n"
    )


def test_engine_jinja_checks_a_tmpl_as_jinja(tmp_path: Path) -> None:
    confdir = _go_confdir(tmp_path, "{{ getv('/servers/a') }}\n", extra='engine = "jinja"\n')
    status, _, err = _check(confdir)
    assert (status, err) == (0, [])


@pytest.mark.parametrize(
    ("template", "line", "message"),
    [
        ("a\n{{ if }}\n", 2, "missing value for if"),
        ("a\nb\n{{ range .x }}\n", 4, "unexpected EOF"),
        ('{{ nosuch "x" }}\n', 1, 'function "nosuch" not defined'),
        ("a\n{{ .x\n", 3, "unclosed action started at app.conf.tmpl:2"),
    ],
)
def test_a_broken_go_template_names_file_and_line(
    tmp_path: Path, template: str, line: int, message: str
) -> None:
    confdir = _go_confdir(tmp_path, template)
    status, _, err = _check(confdir)
    assert status == 1
    assert err == [f"{confdir}/templates/app.conf.tmpl:{line}: template syntax error: {message}"]


def test_a_missing_go_template_names_the_resource_line(tmp_path: Path) -> None:
    confdir = _go_confdir(tmp_path, GO_TMPL)
    (confdir / "templates" / "app.conf.tmpl").unlink()
    status, _, err = _check(confdir)
    assert status == 1
    assert err == [f"{confdir}/conf.d/app.toml:2: missing template: {confdir}/templates/app.conf.tmpl"]


def test_a_go_render_error_names_template_and_line(tmp_path: Path) -> None:
    confdir = _go_confdir(tmp_path, 'ok\n{{ getv "/servers/none" }}\n')
    data = tmp_path / "sample.yaml"
    data.write_text(SAMPLE)
    status, _, err = _check(confdir, data)
    assert status == 1
    assert err == [
        f"{confdir}/templates/app.conf.tmpl:2: app.toml: rendering with sample.yaml: "
        'template: app.conf.tmpl:2:3: executing "app.conf.tmpl" at <getv "/servers/none">: '
        "error calling getv: key does not exist: /servers/none"
    ]


def test_the_file_of_a_problem_is_the_errors_never_text_in_the_message(tmp_path: Path) -> None:
    # A value that reads like a file's name ("foo.toml: ") is quoted in the message, nothing more.
    bad = '[template]\nsrc = "a.j2"\ndest = "foo.toml: x"\n'
    confdir = _confdir(tmp_path, {"a.toml": bad}, {"a.j2": ""})
    status, _, lines = _check(confdir)
    path = confdir / "conf.d" / "a.toml"
    assert status == 1
    assert lines == [f"{path}:3: dest must be an absolute path, got 'foo.toml: x'"]


def test_a_go_render_error_names_the_template_and_its_line(tmp_path: Path) -> None:
    toml = '[template]\nsrc = "a.tmpl"\ndest = "/tmp/a"\nkeys = ["/a"]\n'
    confdir = _confdir(tmp_path, {"a.toml": toml}, {"a.tmpl": 'x\n{{getv "/nope"}}\n'})
    data = tmp_path / "data.yaml"
    data.write_text("a: 1\n")
    status, _, lines = _check(confdir, data)
    assert status == 1
    (line,) = lines
    assert line.startswith(
        f"{confdir / 'templates' / 'a.tmpl'}:2: a.toml: rendering with data.yaml: template: a.tmpl:2:"
    )


def test_an_each_resource_renders_one_file_per_item_and_knows_item(tmp_path: Path) -> None:
    toml = '[template]\nsrc = "s.j2"\ndest = "/tmp/sites/{{ base(item) }}.conf"\neach = "/sites/*"\n'
    confdir = _confdir(tmp_path, {"s.toml": toml}, {"s.j2": "host {{ getv(item + '/host') }}\n"})
    data = tmp_path / "sample.json"
    data.write_text(json.dumps({"sites": {"a": {"host": "h1"}, "b": {"host": "h2"}}}))
    status, out, err = _check(confdir, data)
    assert (status, err) == (0, [])
    assert out.splitlines()[:4] == [
        "==> /tmp/sites/a.conf (s.toml) <==",
        "host h1",
        "==> /tmp/sites/b.conf (s.toml) <==",
        "host h2",
    ]
