"""select() and the two Engine implementations, through the protocol's methods."""

from __future__ import annotations

from pathlib import Path

from confpy.config.resource import TemplateResource
from confpy.engines import select
from confpy.engines.analysis import Analysis, Conversion, KeyRead, Problem, TemplateUse
from confpy.engines.convert import convert
from confpy.engines.go import GoEngine
from confpy.engines.jinja import JinjaEngine
from confpy.engines.render import Renderer
from confpy.errors import TemplateError
from confpy.store import KeyStore


def resource(src: str, engine: str = "") -> TemplateResource:
    return TemplateResource(
        name="r.toml", path=Path("r.toml"), src=src, dest=Path("/tmp/x"), keys=("/app",), engine=engine
    )


def test_select_follows_the_resources_engine() -> None:
    assert select(resource("a.tmpl")) is GoEngine
    assert select(resource("a.conf", "go")) is GoEngine
    assert select(resource("a.j2")) is JinjaEngine
    assert select(resource("a.tmpl", "jinja")) is JinjaEngine


def test_the_renderer_makes_each_engine_once(tmp_path: Path) -> None:
    renderer = Renderer(tmp_path)
    go = renderer.engine(resource("a.tmpl"))
    assert isinstance(go, GoEngine)
    assert go.templates_dir == tmp_path
    assert renderer.engine(resource("b.conf", "go")) is go
    assert isinstance(renderer.engine(resource("a.j2")), JinjaEngine)


def test_jinja_analysis(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text("{{ getv('/app/x') }}\n{{ nope() }}{% include 'gone.j2' %}\n")
    analysis = JinjaEngine(tmp_path).analyse(resource("t.j2"))
    path = str(tmp_path / "t.j2")
    assert analysis == Analysis(
        renderable=False,
        templates=["t.j2"],
        uses=[
            TemplateUse(
                path,
                [Problem(path, 2, "unknown function 'nope'")],
                [KeyRead("getv", "/app/x", False, 1)],
                [Problem(path, 2, f"missing template: {tmp_path / 'gone.j2'}")],
            )
        ],
    )
    assert JinjaEngine(tmp_path).analyse(resource("none.j2")) == Analysis(
        renderable=False, missing_src=tmp_path / "none.j2"
    )


def test_go_analysis(tmp_path: Path) -> None:
    (tmp_path / "ok.tmpl").write_text('{{getv "/app/x"}}\n')
    (tmp_path / "bad.tmpl").write_text("a\n{{ if }}\n")
    engine = GoEngine(tmp_path)
    ok = str(tmp_path / "ok.tmpl")
    assert engine.analyse(resource("ok.tmpl")) == Analysis(
        True, templates=["ok.tmpl"], uses=[TemplateUse(ok)]
    )
    bad = str(tmp_path / "bad.tmpl")
    problem = Problem(bad, 2, "template syntax error: missing value for if")
    assert engine.analyse(resource("bad.tmpl")) == Analysis(False, uses=[TemplateUse(bad, [problem])])
    assert engine.analyse(resource("none.tmpl")) == Analysis(False, missing_src=tmp_path / "none.tmpl")


def test_locate_a_render_error(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text("\n{{ getv('/app/x') }}\n")
    (tmp_path / "t.tmpl").write_text('\n{{getv "/app/x"}}\n')
    for engine, src, expected in [
        (JinjaEngine(tmp_path), "t.j2", (str(tmp_path / "t.j2"), 2, "key does not exist: /app/x")),
        (
            GoEngine(tmp_path),
            "t.tmpl",
            (
                str(tmp_path / "t.tmpl"),
                2,
                'template: t.tmpl:2:2: executing "t.tmpl" at <getv "/app/x">: '
                "error calling getv: key does not exist: /app/x",
            ),
        ),
    ]:
        try:
            engine.render(resource(src), KeyStore({}), lambda _: None)
        except TemplateError as exc:
            assert engine.locate(exc, resource(src)) == expected
        else:
            raise AssertionError("rendered without the key")


def test_convert(tmp_path: Path) -> None:
    go = '{{getv "/app/x"}}\n'
    assert GoEngine(tmp_path).convert(go, "t.tmpl") == convert(go, "t.tmpl")
    assert JinjaEngine(tmp_path).convert("{{ x }}", "t.j2") == Conversion("{{ x }}")
