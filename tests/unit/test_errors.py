"""The error tree's fields and exit statuses, the context that attaches them, and the helpers every
message uses: the close name for "did you mean", a reason that is never empty."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

import pytest

from confpy.config.resource import TemplateResource, load_resources
from confpy.config.settings import Settings, load_settings
from confpy.engines.render import Renderer
from confpy.errors import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_STALE,
    BackendError,
    CommandError,
    ConfigError,
    ConfpyError,
    KeyNotFoundError,
    TemplateError,
    ValueDecodeError,
    WriteError,
    closest,
    context,
    current,
    invalid_toml,
    reason,
)
from confpy.pipeline.processor import ResourceProcessor
from confpy.store import KeyStore
from tests.support.helpers import make_confdir


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


def test_fields_default_to_none_and_are_set_by_the_raise_site() -> None:
    error = ConfpyError("x")
    assert (error.resource, error.path, error.line, error.key) == (None, None, None, None)
    assert error.fields() == {}
    named = TemplateError("x", resource="a.toml", path=Path("/t/a.j2"), line=3)
    assert named.fields() == {"resource": "a.toml", "path": Path("/t/a.j2"), "line": 3}
    assert KeyNotFoundError("/k").key == "/k"
    assert ValueDecodeError("/k", "a.toml").fields() == {"resource": "a.toml", "key": "/k"}


def test_exit_status_is_the_errors() -> None:
    assert ConfigError("x").exit_status == EXIT_CONFIG == 2
    for error in (
        ConfpyError("x"),
        TemplateError("x"),
        BackendError("x"),
        CommandError("x"),
        WriteError("x"),
    ):
        assert error.exit_status == EXIT_FAILED == 1
    assert EXIT_STALE == 3


def test_context_attaches_only_missing_fields_to_an_error_passing_through() -> None:
    error = TemplateError("x", path=Path("/t/inner.j2"))
    with pytest.raises(TemplateError) as raised, context(resource="a.toml", path=Path("/outer")):
        raise error
    assert raised.value is error
    assert error.resource == "a.toml" and error.path == Path("/t/inner.j2")


def test_context_leaves_other_exceptions_alone_and_ends_with_its_block() -> None:
    assert current() == {}
    with pytest.raises(ValueError), context(resource="a.toml"):
        assert current() == {"resource": "a.toml"}
        with context(line=4):
            assert current() == {"resource": "a.toml", "line": 4}
        raise ValueError("not ours")
    assert current() == {}


def test_retold_keeps_type_and_fields() -> None:
    error = CommandError("reload_cmd for a.toml failed", resource="a.toml")
    told = error.retold("reload_cmd for a.toml failed\n(more)")
    assert type(told) is CommandError and str(told).endswith("(more)") and told.resource == "a.toml"


@pytest.mark.parametrize(("text", "line"), [("a = 1\nb = \n", 2), ("a = [1,\n", None), ("[x\n", 1)])
def test_invalid_toml_takes_the_line_from_tomllib(text: str, line: int | None) -> None:
    with pytest.raises(tomllib.TOMLDecodeError) as raised:
        tomllib.loads(text)
    error = invalid_toml(Path("/c/confd.toml"), raised.value)
    assert str(error) == f"/c/confd.toml: invalid TOML: {raised.value}"
    assert (error.path, error.line, error.exit_status) == (Path("/c/confd.toml"), line, 2)


# --- the boundaries that attach them ------------------------------------------------------------


def test_a_resource_that_does_not_load_names_itself_and_its_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    confdir = make_confdir(
        tmp_path,
        {
            "sub/bad.toml": "[template]\nsrc = 'a'\n\ndest = \n",
            "ok.toml": "[template]\nsrc='a'\ndest='/x'\nsrcc=1\n",
        },
        {},
    )
    with caplog.at_level(logging.WARNING, logger="confpy"):
        resources, (error,) = load_resources(confdir)
    bad = confdir / "conf.d" / "sub" / "bad.toml"
    assert (error.resource, error.path, error.line) == ("sub/bad.toml", bad, 4)
    assert [r.name for r in resources] == ["ok.toml"]
    (warning,) = caplog.records
    assert getattr(warning, "resource") == "ok.toml"  # noqa: B009 (set by the log's filter)
    assert getattr(warning, "path") == confdir / "conf.d" / "ok.toml"  # noqa: B009


def test_a_field_error_in_a_resource_has_its_file_but_no_line(tmp_path: Path) -> None:
    confdir = make_confdir(tmp_path, {"a.toml": "[template]\nsrc = 'a'\ndest = 'relative'\n"}, {})
    _, (error,) = load_resources(confdir)
    assert (error.resource, error.path, error.line) == ("a.toml", confdir / "conf.d" / "a.toml", None)


def test_confd_toml_that_does_not_parse_has_its_line(tmp_path: Path) -> None:
    (tmp_path / "confd.toml").write_text('backend = "env"\nnodes = [\n')
    with pytest.raises(ConfigError) as raised:
        load_settings({"confdir": str(tmp_path)}, environ={})
    assert (raised.value.path, raised.value.line) == (tmp_path / "confd.toml", None)
    (tmp_path / "confd.toml").write_text('backend = "env"\nnodes = ]\n')
    with pytest.raises(ConfigError) as raised:
        load_settings({"confdir": str(tmp_path)}, environ={})
    assert (raised.value.path, raised.value.line) == (tmp_path / "confd.toml", 2)


def _processor(tmp_path: Path, template: str, reload_cmd: str | None = None) -> ResourceProcessor:
    (tmp_path / "templates").mkdir(exist_ok=True)
    (tmp_path / "templates" / "a.j2").write_text(template)
    resource = TemplateResource(
        name="app/a.toml",
        path=tmp_path / "a.toml",
        src="a.j2",
        dest=tmp_path / "out",
        keys=("/",),
        reload_cmd=reload_cmd,
    )
    return ResourceProcessor(resource, Renderer(tmp_path / "templates"), Settings())


def test_an_error_applying_a_resource_names_it(tmp_path: Path) -> None:
    processor = _processor(tmp_path, "{{ getv('/secret') }}\n{{ getv('/nope') }}\n", reload_cmd="exit 3")
    with pytest.raises(TemplateError) as raised:
        processor.sync(KeyStore({"/secret": "s3cret"}))
    assert raised.value.resource == "app/a.toml"
    processor = _processor(tmp_path, "x\n", reload_cmd="exit 3")
    processor.sync(KeyStore({}))
    with pytest.raises(CommandError) as failed:
        processor.reload()
    assert failed.value.resource == "app/a.toml" and "is updated" in str(failed.value)
    assert failed.value.step == "reload_cmd"  # kept through retold: the metrics count by it


def test_a_redacted_error_keeps_its_fields(tmp_path: Path) -> None:
    processor = _processor(tmp_path, "{{ getv('/secret') | json }}\n")
    with pytest.raises(TemplateError) as raised:
        processor.sync(KeyStore({"/secret": "s3cret"}))
    assert "<value of /secret>" in str(raised.value) and "s3cret" not in str(raised.value)
    assert raised.value.resource == "app/a.toml"


def test_the_engines_set_the_template_and_line_of_a_failure(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "a.j2").write_text("x\n{% include 'b.j2' %}\n")
    (templates / "b.j2").write_text("\n\n{{ getv('/nope') }}\n")
    (templates / "c.j2").write_text("{% if %}\n")
    (templates / "a.tmpl").write_text('x\n{{getv "/nope"}}\n')
    (templates / "b.tmpl").write_text("\n{{end}}\n")
    failures = {}
    for src in ("a.j2", "c.j2", "a.tmpl", "b.tmpl"):
        resource = TemplateResource(
            name="r.toml", path=tmp_path / "r.toml", src=src, dest=tmp_path / "o", keys=()
        )
        with pytest.raises(TemplateError) as raised:
            Renderer(templates).render(resource, KeyStore({}))
        failures[src] = (raised.value.path, raised.value.line)
    assert failures == {
        "a.j2": (templates / "b.j2", 3),
        "c.j2": (templates / "c.j2", 1),
        "a.tmpl": (templates / "a.tmpl", 2),
        "b.tmpl": (templates / "b.tmpl", 2),
    }
