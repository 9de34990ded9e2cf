"""The service's confdir watcher, which starts only after the first render: a folder that goes away
while it starts neither stops the service nor goes unnoticed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from watchdog.observers.api import BaseObserver

from confpy.config.resource import resource_dir
from confpy.config.settings import Settings
from confpy.runtime.service import run_service
from tests.support.signals import caller_handlers


def test_conf_d_renamed_while_the_confdir_watcher_starts_is_a_reload(
    env_service: tuple[Settings, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, dest = env_service
    confdir = settings.confdir
    conf_d = confdir / "conf.d"
    schedule = BaseObserver.schedule
    renamed: list[str] = []

    def schedule_then_rename(observer: BaseObserver, handler: Any, path: str, **options: Any) -> Any:
        """Between the watcher's look at its folders and its start: conf.d goes away."""
        watch = schedule(observer, handler, path, **options)
        if path == str(conf_d) and not renamed:
            conf_d.rename(confdir / "conf.d.old")
            renamed.append(path)
        return watch

    monkeypatch.setattr(BaseObserver, "schedule", schedule_then_rename)
    reloaded, returned = threading.Event(), threading.Event()
    reloads: list[bool] = []

    def reload() -> Settings:
        reloads.append(True)
        reloaded.set()
        resource_dir(confdir)  # conf.d is gone: the reload is refused, the running config kept
        return settings

    def stop_once_reloaded() -> None:
        reloaded.wait(30)  # a bound, so that a reload that never comes fails instead of hanging
        if not returned.is_set():
            os.kill(os.getpid(), signal.SIGTERM)

    with caller_handlers():
        killer = threading.Thread(target=stop_once_reloaded, daemon=True)
        killer.start()
        try:
            assert run_service(settings, reload) == 0
        finally:
            returned.set()
            reloaded.set()
            killer.join()
    assert renamed == [str(conf_d)]
    assert reloads  # the watcher's start found conf.d gone
    assert dest.read_text() == "1\n"


def test_watchdogs_own_log_lines_do_not_reach_stderr() -> None:
    """Its emitter stopped while it starts logs an error; without a handler Python's last resort
    printed it, unformatted, between confpy's lines (in JSON mode too)."""
    code = (
        "import logging, confpy.runtime.service; "
        "logging.getLogger('watchdog.observers.inotify').error('called when the thread is inactive')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
