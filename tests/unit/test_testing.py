from pathlib import Path

import pytest

from confpy.errors import ConfigError, TemplateError
from confpy.testing import MemoryBackend, render_confdir
from tests.support.helpers import make_confdir


def test_render_confdir_renders_each_resource(tmp_path: Path) -> None:
    confdir = make_confdir(
        tmp_path,
        {"a.toml": '[template]\nsrc = "a.j2"\ndest = "/x"\nprefix = "/app"\nkeys = ["/db"]\n'},
        {"a.j2": "db = {{ getv('/db/host') }}:{{ getv('/db/port', '5432') }}\n"},
    )
    assert render_confdir(confdir, {"/app/db/host": "db1", "/other": "x"}) == {"a.toml": "db = db1:5432\n"}
    with pytest.raises(TemplateError, match="key does not exist: /db/host"):
        render_confdir(confdir, {})


def test_render_confdir_reports_broken_resources(tmp_path: Path) -> None:
    confdir = make_confdir(tmp_path, {"bad.toml": "[template\n"}, {})
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        render_confdir(confdir, {})


def test_memory_backend_is_public() -> None:
    backend = MemoryBackend({"/a": "1"})
    assert backend.read(["/"]).values == {"/a": "1"}
