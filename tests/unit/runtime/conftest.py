"""A service to run in watch mode: one resource on the env backend (which polls), APP_A=1."""

from __future__ import annotations

from pathlib import Path

import pytest

from confpy.config.settings import Settings
from tests.support.helpers import make_confdir


@pytest.fixture
def env_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, Path]:
    """Watch-mode settings of a confdir whose one resource writes APP_A's value to the path returned."""
    monkeypatch.setenv("APP_A", "1")
    dest = tmp_path / "a.conf"
    toml = f'[template]\nsrc = "a.j2"\ndest = "{dest}"\nkeys = ["/app/a"]\n'
    confdir = make_confdir(tmp_path, {"a.toml": toml}, {"a.j2": "{{ getv('/app/a') }}\n"})
    return Settings(confdir=confdir, backend="env", watch=True), dest
