"""`SignalRelay` and `run_service` leave the process's signal handlers and wakeup fd as they found
them, and `run_service` no thread that watches the confdir."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
from watchdog.observers.api import BaseObserver

from confpy.config.settings import Settings
from confpy.runtime.service import run_service
from confpy.runtime.signals import SignalRelay
from tests.support.signals import SIGNALS, caller_handlers


def test_the_relay_restores_handlers_and_the_wakeup_fd_when_its_body_raises() -> None:
    with caller_handlers(), pytest.raises(RuntimeError), SignalRelay(SIGNALS, lambda _n: None):
        assert signal.getsignal(signal.SIGTERM) != signal.SIG_DFL
        raise RuntimeError("the body failed")


def test_the_relay_entered_off_the_main_thread_fails_and_changes_nothing() -> None:
    failed: list[BaseException] = []

    def enter() -> None:
        try:
            with SignalRelay(SIGNALS, lambda _n: None):
                pass
        except ValueError as exc:
            failed.append(exc)

    with caller_handlers():
        thread = threading.Thread(target=enter)
        thread.start()
        thread.join()
    assert len(failed) == 1
    assert "confpy-signals" not in {t.name for t in threading.enumerate()}


def test_run_service_restores_the_handlers_and_stops_watching_the_confdir_when_it_returns(
    env_service: tuple[Settings, Path],
) -> None:
    settings, dest = env_service  # env cannot watch: it polls
    done = threading.Event()
    watched: list[bool] = []

    def stop_once_written() -> None:
        # Once written and the confdir watched (its watcher starts after the first render); a
        # bound, so that a service that never gets there fails instead of hanging.
        for _ in range(3000):
            if (dest.exists() and _observers()) or done.wait(0.01):
                break
        watched.append(bool(_observers()))
        os.kill(os.getpid(), signal.SIGTERM)  # the service's relay has it by now: it stops

    with caller_handlers():
        killer = threading.Thread(target=stop_once_written, daemon=True)
        killer.start()
        try:
            assert run_service(settings, lambda: settings) == 0
        finally:
            done.set()
            killer.join()
    assert dest.read_text() == "1\n"
    assert watched == [True]
    assert not _observers()


def _observers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if isinstance(t, BaseObserver)]
