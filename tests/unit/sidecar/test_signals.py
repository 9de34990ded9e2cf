"""`run_wait`, `run_register` and `run_exec`, called as a library, leave the process's signal
handlers and wakeup fd as they found them, whether they return or raise."""

from __future__ import annotations

from pathlib import Path

import pytest

from confpy.config.settings import Settings
from confpy.errors import ConfigError
from confpy.sidecar.exec import run_exec
from confpy.sidecar.register import run_register
from confpy.sidecar.wait import run_wait
from tests.support.helpers import make_confdir
from tests.support.signals import caller_handlers


def test_run_wait_restores_the_handlers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_DB", "10.0.0.7")
    with caller_handlers():
        assert run_wait(Settings(confdir=tmp_path, backend="env"), ["/app/db"], None) == 0


def test_run_register_restores_the_handlers_when_it_raises(tmp_path: Path) -> None:
    with caller_handlers(), pytest.raises(ConfigError, match="needs the etcd backend"):
        run_register(Settings(confdir=tmp_path, backend="env"), "/k", "v", 15)


def test_run_exec_restores_the_handlers(tmp_path: Path) -> None:
    """A resource file that does not load: confpy exec refuses to start the command, exit 1."""
    confdir = make_confdir(tmp_path, {"bad.toml": "[template\n"}, {})
    with caller_handlers():
        assert run_exec(Settings(confdir=confdir, backend="env"), ["true"]) == 1
