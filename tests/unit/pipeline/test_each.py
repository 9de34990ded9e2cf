"""An each-resource's items and file names (pure: a memory store, the real engines)."""

from __future__ import annotations

from pathlib import Path

import pytest

from confpy.config.resource import TemplateResource
from confpy.engines.render import Renderer
from confpy.errors import TemplateError
from confpy.pipeline.each import file_names, items
from confpy.store import KeyStore


def resource(each: str, name: str = "{{ base(item) }}.conf", src: str = "t.j2") -> TemplateResource:
    return TemplateResource("r.toml", Path("/c/r.toml"), src, Path(f"/etc/s/{name}"), ("/",), each=each)


def test_items_are_the_keys_cut_to_the_patterns_depth_that_match() -> None:
    store = KeyStore(
        {"/sites/a/host": "1", "/sites/a/port": "2", "/sites/b": "x", "/sites": "no", "/other/c/host": "3"}
    )
    assert items(resource("/sites/*"), store) == ["/sites/a", "/sites/b"]
    assert items(resource("/*/c"), store) == ["/other/c"]
    assert items(resource("/sites/[a]"), store) == ["/sites/a"]


def test_file_names_in_both_engines(tmp_path: Path) -> None:
    renderer = Renderer(tmp_path)
    store = KeyStore({"/sites/a/name": "alpha"})
    jinja = resource("/sites/*", "{{ getv(item + '/name') }}.conf")
    assert file_names(jinja, store, ["/sites/a"], renderer.render_text) == {"alpha.conf": "/sites/a"}
    go = resource("/sites/*", "{{base .}}.conf", src="t.tmpl")
    assert file_names(go, store, ["/sites/a"], renderer.render_text) == {"a.conf": "/sites/a"}


@pytest.mark.parametrize("name", ["", ".", "..", ".hidden", "a/b", "a\0b"])
def test_a_name_that_is_not_one_plain_file_name_is_refused(tmp_path: Path, name: str) -> None:
    r = resource("/sites/*")
    with pytest.raises(TemplateError, match=r"r\.toml: key /sites/a: dest file name .* is not one file name"):
        file_names(r, KeyStore(), ["/sites/a"], lambda *_: name)


def test_two_items_with_one_name_are_refused_naming_both(tmp_path: Path) -> None:
    r = resource("/sites/*")
    with pytest.raises(TemplateError) as caught:
        file_names(r, KeyStore(), ["/sites/a", "/sites/b"], lambda *_: "same.conf")
    assert str(caught.value) == (
        "r.toml: keys /sites/a and /sites/b both map to dest /etc/s/same.conf: nothing written"
    )
    assert caught.value.key == "/sites/b"
