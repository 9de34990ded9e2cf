"""Start-up time: a run imports only the engines its resources use (confpy.engines.select).

Jinja2 costs ~40 ms to import and the Go engine ~30 ms; a confdir with only Go templates (confd's
own) must not pay for Jinja2, nor one with only Jinja2 templates for the Go engine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.helpers import make_confdir

RESOURCE = '[template]\nsrc = "{src}"\ndest = "{dest}"\nkeys = ["/app"]\n'
TEMPLATES = {"app.conf.tmpl": '{{getv "/app/name"}}\n', "app.conf.j2": "{{ getv('/app/name') }}\n"}


def _imported(tmp_path: Path, src: str) -> set[str]:
    """The modules a `confpy -onetime` of one resource with template `src` imports."""
    dest = tmp_path / "app.conf"
    confdir = make_confdir(tmp_path, {"app.toml": RESOURCE.format(src=src, dest=dest)}, {src: TEMPLATES[src]})
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "confpy",
            "-onetime",
            "-backend",
            "env",
            "-confdir",
            str(confdir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"APP_NAME": "web", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "web\n"
    return {
        line.rpartition("|")[2].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }


@pytest.mark.parametrize(
    ("src", "used", "unused"),
    [
        ("app.conf.tmpl", "confpy.engines.go", ("jinja2", "confpy.engines.jinja", "confpy.engines.convert")),
        ("app.conf.j2", "confpy.engines.jinja", ("confpy.engines.go", "confpy.engines.gotemplate")),
    ],
)
def test_a_run_imports_only_the_engine_it_uses(
    tmp_path: Path, src: str, used: str, unused: tuple[str, ...]
) -> None:
    imported = _imported(tmp_path, src)
    assert used in imported
    assert not {m for m in imported if m.startswith(unused)}
